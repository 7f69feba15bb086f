"""The console's words for re-opening expired envelopes, template previews and distribution funnels."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "reinstate": ("Re-open", "重新开放"),
    "reinstate_grant": ("Re-open red envelope {id}", "重新开放红包 {id}"),
    "reinstate_reason": ("Why (recorded in the audit trail)", "原因（记入审计记录）"),
    "reinstate_confirm": (
        "Re-open this expired envelope for a fresh claim window; its value comes back out of the budget.",
        "为该过期红包重新开放领取期；其金额将从预算中重新扣除。",
    ),
    "reinstate_done": (
        "Red envelope {id} re-opened: it can be opened until {until}.",
        "红包 {id} 已重新开放，可领取至 {until}。",
    ),
    "reinstate_pending": (
        "Red envelope {id} is above {above}: your approval is recorded, and a second, different person "
        "must re-open it. It stays expired until then.",
        "红包 {id} 金额高于 {above}：已记录您的批准，须由另一位人员再次确认后才会重新开放，"
        "在此之前仍为过期状态。",
    ),
    "reinstate_refused": ("Not re-opened: {reason}", "未重新开放：{reason}"),
    "reinstate_refused_four_eyes": (
        "you already approved re-opening it; a second, different person must (another key of yours "
        "counts as you).",
        "您已批准过；须由另一位人员确认（您的其他密钥仍视为您本人）。",
    ),
    "reinstate_refused_self_decision": (
        "it is your own account's envelope; someone else re-opens it.",
        "这是您本人账户的红包，须由他人重新开放。",
    ),
    "reinstate_refused_budget_exhausted": (
        "the campaign's budget no longer holds its amount.",
        "活动预算已不足以支付该金额。",
    ),
    "reinstate_reason_required": ("Say why the envelope is re-opened.", "请填写重新开放的原因。"),
    "notifications": ("Notifications", "通知"),
    "notifications_title": ("Notifications of {id}", "{id} 的通知"),
    "preview": ("Preview", "预览"),
    "preview_title": ("Preview a message", "预览消息"),
    "preview_help": (
        "What one account would receive, in its language, worded as `notify send` words it. Nothing is sent.",
        "某个账户将收到的内容，使用其语言，与 `notify send` 的措辞相同。不会发送任何消息。",
    ),
    "preview_template": ("Template", "模板"),
    "preview_account": ("Account", "账户"),
    "preview_for": (
        "For {account} (red envelope {grant}), in {language}:",
        "发给 {account}（红包 {grant}），语言：{language}：",
    ),
    "preview_email": ("Email", "电子邮件"),
    "preview_subject": ("Subject", "主题"),
    "preview_body": ("Text", "正文"),
    "preview_sms": ("SMS", "短信"),
    "funnels_title": ("Distributions", "发送批次"),
    "funnels_help": (
        "Per distribution, newest first: every (account, channel) planned, what was sent, failed or "
        "suppressed, and the accounts that opened an envelope after a message reached them.",
        "按发送批次（最新在前）：计划的每个（账户、渠道），已发送、失败或被抑制的数量，"
        "以及收到消息后打开红包的账户数。",
    ),
    "no_distributions": ("No distribution yet.", "尚无发送批次。"),
    "funnel_title": ("Funnel of {id} ({template})", "{id}（{template}）的漏斗"),
    "funnel_planned": ("Planned", "计划"),
    "funnel_sent": ("Sent", "已发送"),
    "funnel_failed": ("Failed", "失败"),
    "funnel_suppressed": ("Suppressed", "已抑制"),
    "funnel_opened": ("Opened afterwards", "之后已打开"),
    "distribution_manual": ("sent by hand", "人工发送"),
    "distribution_reminder": ("reminder", "自动提醒"),
    "code_no_envelope": (
        "The account holds no red envelope of this campaign.",
        "该账户没有本活动的红包。",
    ),
}
