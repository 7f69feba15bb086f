"""The console's words for promise groups, stacking, shortfalls and why a purchase has no grant."""

from __future__ import annotations

GROUP_MESSAGES: dict[str, tuple[str, str]] = {
    "promise_group": ("Promise group", "承诺组"),
    "stacking_excluded": (
        "a purchase another campaign of the group paid is not paid again",
        "同组其他活动已支付的购买不再重复支付",
    ),
    "stacking_allowed": (
        "STACKING ALLOWED: purchases the group already paid are paid again",
        "允许叠加：同组已支付的购买将再次支付",
    ),
    "already_paid_by": ("Already paid by {campaign}", "已由 {campaign} 支付"),
    "shortfall_warning": (
        "The budget of {budget} cannot pay everyone this campaign promises: {n} qualifying purchases "
        "would get nothing; {missing} more would pay them all.",
        "预算 {budget} 不足以兑现本活动的全部承诺：{n} 笔符合条件的购买将得不到任何款项；"
        "还需 {missing} 才能全部支付。",
    ),
    "accept_shortfall_label": (
        "To launch anyway, type the number of purchases that will get nothing ({n}):",
        "如仍要启动，请输入将得不到款项的购买笔数（{n}）：",
    ),
    "accept_shortfall_invalid": (
        "The shortfall to accept must be a whole number of purchases.",
        "接受的缺口必须是购买笔数（整数）。",
    ),
    "why_no_grant": ("No grant:", "未发放："),
    "why_already_paid": (
        "already paid by campaign {campaign} of the same promise group",
        "已由同一承诺组的活动 {campaign} 支付",
    ),
    "why_per_account": (
        "the limit per account ({limit}) was taken by purchase {purchases}",
        "每个账户的限额（{limit}）已被购买 {purchases} 占用",
    ),
    "why_per_serial": (
        "the limit per serial {serial} ({limit}) was taken by purchase {purchases} (of account {accounts})",
        "序列号 {serial} 的限额（{limit}）已被购买 {purchases}（账户 {accounts}）占用",
    ),
    "why_budget_exhausted": (
        "the budget ran out at purchase {position} of {of} in issuance order ({purchase_id})",
        "预算在发放顺序中的第 {position} 笔（共 {of} 笔，{purchase_id}）处用完",
    ),
    "why_not_yet_run": (
        "not yet issued: the campaign has not run since this purchase was imported",
        "尚未发放：导入这笔购买后活动还没有运行",
    ),
    "why_not_launched": ("not yet issued: the campaign has not been launched", "尚未发放：活动尚未启动"),
}
