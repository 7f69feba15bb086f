"""Words of the claims pages (the review queue, one claim, the claim form): key → (English, 简体中文)."""

from __future__ import annotations

# Reason codes offered to reviewers (any code of [a-z0-9_] is taken; these have words).
APPROVE_REASONS = ("receipt_verified", "serial_verified", "goodwill")
REJECT_REASONS = ("receipt_unreadable", "receipt_mismatch", "not_eligible", "duplicate", "fraud_suspected")

MESSAGES: dict[str, tuple[str, str]] = {
    "nav_claims": ("Claims", "补登申请"),
    "claims_title": ("Claims to review", "补登申请审核"),
    "claims_intro": (
        "Purchases customers say are missing from our records, oldest first. The system has already "
        "rejected claims that fail a hard check; the rest wait for a person.",
        "客户申报的、记录中缺失的购买，按提交时间先后排列。未通过硬性检查的申请已由系统拒绝；其余等待人工审核。",
    ),
    "claims_filter": ("Show", "筛选"),
    "claims_any_campaign": ("every campaign", "全部活动"),
    "claims_none": ("No claims here.", "此处没有申请。"),
    "claims_more": ("More", "更多"),
    "claim_col_submitted": ("Submitted", "提交时间"),
    "claim_col_account": ("Account", "账户"),
    "claim_col_serial": ("Serial", "序列号"),
    "claim_col_amount": ("Amount", "金额"),
    "claim_col_checks": ("Checks", "检查"),
    "claim_col_flags": ("Risk flags", "风险标记"),
    "claim_col_state": ("State", "状态"),
    "claim_checks_failed": ("{n} failed", "{n} 项未通过"),
    "claim_checks_passed": ("all passed", "全部通过"),
    "claim_state_pending": ("waiting for review", "待审核"),
    "claim_state_approved": ("approved", "已批准"),
    "claim_state_rejected": ("rejected", "已拒绝"),
    "claim_title": ("Claim {id}", "补登申请 {id}"),
    "claim_purchase": (
        "Serial {serial} ({sku}), bought {when} for {price}; envelope {amount}",
        "序列号 {serial}（{sku}），购于 {when}，价格 {price}；红包 {amount}",
    ),
    "claim_submitted_by": ("Submitted by {who} on {when}", "由 {who} 于 {when} 提交"),
    "claim_checks_h": ("Checks", "检查"),
    "claim_flags_h": ("Risk flags", "风险标记"),
    "claim_no_flags": ("No risk flags.", "无风险标记。"),
    "claim_evidence_h": ("Evidence", "凭证"),
    "claim_no_evidence": ("No evidence files.", "没有凭证文件。"),
    "claim_evidence_file": ("{kind} file, {size} bytes", "{kind} 文件，{size} 字节"),
    "claim_evidence_alt": ("Evidence photo {n} of claim {id}", "申请 {id} 的第 {n} 张凭证照片"),
    "claim_approvals": ("Approved so far by: {names}", "已批准人：{names}"),
    "claim_decided": ("Decided by {who} on {when}: {reason}", "由 {who} 于 {when} 决定：{reason}"),
    "claim_grant": ("Envelope {grant}", "红包 {grant}"),
    "claim_decide_h": ("Decision", "决定"),
    "claim_reason": ("Reason", "理由"),
    "claim_approve": ("Approve", "批准"),
    "claim_reject": ("Reject", "拒绝"),
    "claim_four_eyes_note": (
        "Above {amount} two different people must approve. You cannot decide a claim you submitted or one "
        "for your own account.",
        "金额超过 {amount} 时须由两位不同人员批准。您不能审核自己提交的申请或自己账户的申请。",
    ),
    "claim_decided_ok": ("Claim {id}: {state}.", "申请 {id}：{state}。"),
    "claim_first_approval": (
        "Your approval of claim {id} is recorded; a second person must approve it too.",
        "已记录您对申请 {id} 的批准；还需另一人批准。",
    ),
    # Checks and flags
    "check_claim_window": ("Claims still taken", "仍在受理期内"),
    "check_evidence": ("Evidence attached", "已附凭证"),
    "check_serial_registered": (
        "Serial in the maker's register, sold in the window",
        "序列号在登记册中且在活动期内售出",
    ),
    "check_serial_unpaid": ("Serial not paid before", "该序列号未曾获得补偿"),
    "check_account_region": ("Account region matches the sale", "账户地区与销售地区一致"),
    "check_purchased": ("Bought inside the window", "在活动期内购买"),
    "flag_duplicate_evidence": ("Same file on another account's claim", "同一文件出现在其他账户的申请中"),
    "flag_similar_evidence": (
        "Near-identical image on another account's claim",
        "其他账户的申请中有几乎相同的图片",
    ),
    "flag_burst": ("Many claims from this account in 24 hours", "该账户 24 小时内提交了多份申请"),
    "flag_serial_claimed_elsewhere": ("Another account claims this serial", "另一账户也申报了此序列号"),
    "flag_purchased_before_sold": ("Purchase date before the maker sold it", "购买日期早于厂商售出日期"),
    "flag_region_changed": (
        "Account moved to another region after the launch",
        "活动上线后账户地区发生变更",
    ),
    "flag_four_eyes": ("Above the review threshold: two approvers", "超过审核阈值：需两人批准"),
    # Reason codes
    "reason_receipt_verified": ("receipt verified", "凭证已核实"),
    "reason_serial_verified": ("serial verified with the maker", "已与厂商核实序列号"),
    "reason_goodwill": ("goodwill", "善意补偿"),
    "reason_receipt_unreadable": ("the receipt cannot be read", "凭证无法辨认"),
    "reason_receipt_mismatch": ("the receipt does not match the claim", "凭证与申请不符"),
    "reason_not_eligible": ("the purchase does not qualify", "该购买不符合条件"),
    "reason_duplicate": ("already claimed", "已申请过"),
    "reason_fraud_suspected": ("could not be verified", "无法核实"),
    # The customer's side (/me)
    "my_claims": ("My claims", "我的补登申请"),
    "my_claims_none": ("You have not claimed anything.", "您尚未提交补登申请。"),
    "my_claim_line": (
        "{campaign}: serial {serial}, bought {when} — {state}",
        "{campaign}：序列号 {serial}，购于 {when} — {state}",
    ),
    "my_claim_reason": ("Reason: {reason}", "原因：{reason}"),
    "claim_form_h": ("Bought one but it is not listed? Claim it", "买了但未列出？申请补登"),
    "claim_form_help": (
        "Give the device's serial number, when and for how much you bought it, and a photo or PDF of the "
        "receipt (JPEG, PNG, WebP or PDF, at most 5 MB each, up to 5 files). Location data in photos is "
        "removed before they are kept. Only you and our reviewers can see them.",
        "请填写设备序列号、购买时间与价格，并上传收据照片或 PDF（JPEG、PNG、WebP 或 PDF，每个不超过 5 MB，"
        "最多 5 个文件）。照片中的位置信息会在保存前删除。只有您和我们的审核人员可以查看。",
    ),
    "claim_form_campaign": ("Campaign", "活动"),
    "claim_form_serial": ("Serial number", "序列号"),
    "claim_form_when": ("Bought on ({tz})", "购买时间（{tz}）"),
    "claim_form_price": ("Price paid ({currency})", "支付金额（{currency}）"),
    "claim_form_files": ("Receipt (photo or PDF)", "收据（照片或 PDF）"),
    "claim_form_submit": ("Send my claim", "提交申请"),
    "claim_form_closed": ("No campaign takes claims at the moment.", "目前没有活动接受补登申请。"),
    "claim_sent_pending": (
        "Thank you. Your claim {id} was received and will be reviewed.",
        "谢谢。您的申请 {id} 已收到，我们将进行审核。",
    ),
    "claim_sent_rejected": (
        "Your claim {id} could not be accepted: {reasons}.",
        "您的申请 {id} 未能受理：{reasons}。",
    ),
}
