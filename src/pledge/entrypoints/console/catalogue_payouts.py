"""Words of the payouts pages and of a transfer waiting for the customer: key → (English, 简体中文)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "nav_payouts": ("Payouts", "打款"),
    "payouts_title": ("Payouts", "打款"),
    "payouts_intro": (
        "Transfers to customers, by state. Failed ones carry the provider's reason: customer service "
        "takes them from here. Unknown ones are being asked about; they are never guessed.",
        "向客户的转账，按状态列出。失败的转账附有支付机构给出的原因，由客服跟进；"
        "状态未知的转账正在向支付机构查询，绝不猜测。",
    ),
    "payouts_none": ("No transfers in this state.", "没有处于此状态的转账。"),
    "payout_col_transfer": ("Transfer", "转账"),
    "payout_col_account": ("Account", "账户"),
    "payout_col_rail": ("Rail", "渠道"),
    "payout_col_due": ("Due on", "应付日期"),
    "payout_col_attempts": ("Requests", "请求次数"),
    "payout_col_reason": ("Provider's reason", "支付机构原因"),
    "payout_state_pending": ("planned", "已计划"),
    "payout_state_submitted": ("submitted", "已提交"),
    "payout_state_unknown": ("unknown: being asked", "未知：查询中"),
    "payout_state_waiting_user": ("waiting for the customer", "等待客户确认"),
    "payout_state_succeeded": ("paid", "已到账"),
    "payout_state_failed": ("failed", "失败"),
    "payout_state_cancelled": ("cancelled", "已取消"),
    "payout_state_returned": ("returned", "已退回"),
    "reconcile_h": ("Reconcile a provider's statement", "核对支付机构对账单"),
    "reconcile_help": (
        "Upload the provider's daily statement (CSV: reference, amount, currency, state, finished_at). "
        "Pledge compares it with the transfers it holds as paid and changes nothing.",
        "上传支付机构的日对账单（CSV：reference, amount, currency, state, finished_at）。"
        "Pledge 将其与已记为到账的转账比对，不做任何更改。",
    ),
    "reconcile_rail": ("Rail", "渠道"),
    "reconcile_file": ("Statement (CSV)", "对账单（CSV）"),
    "reconcile_submit": ("Compare", "比对"),
    "reconcile_title": ("Reconciliation: {rail}", "对账结果：{rail}"),
    "reconcile_matched": ("{n} transfers match.", "{n} 笔转账一致。"),
    "reconcile_clean": ("No differences.", "没有差异。"),
    "reconcile_missing_at_provider": (
        "Paid in our books, missing at the provider",
        "账上已付，支付机构无记录",
    ),
    "reconcile_missing_in_ledger": ("Paid by the provider, missing in our books", "支付机构已付，账上无记录"),
    "reconcile_amount_mismatch": ("Amounts that differ", "金额不一致"),
    "reconcile_back": ("Back to the payouts", "返回打款"),
    "me_confirm_transfer": (
        "{amount} is waiting for you to accept it in WeChat (transfer {transfer}).",
        "有 {amount} 等待您在微信中确认收款（转账 {transfer}）。",
    ),
}
