"""Who is told, who is not and why; when reminders go (domain/notifications.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pledge.domain.errors import InputError
from pledge.domain.notifications import (
    DEFAULT_REMIND_BEFORE,
    TEMPLATES,
    Channel,
    FrequencyCap,
    Policy,
    Purpose,
    Reason,
    Recipient,
    SendingWindow,
    SentRecord,
    check_params,
    days_left,
    decide,
    in_window,
    opt_out_all,
    reminder_due,
    reminders,
    template,
    topic_of,
    window_opens_after,
)
from pledge.domain.timeutil import US_PER_DAY, from_us, to_us

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR_US = 3600 * 1_000_000
NOON_US = to_us(datetime(2026, 12, 4, 12, 0, tzinfo=SHANGHAI))
LIN = Recipient("A1", email="lin@example.com", phone="+8613800138000", locale="zh-CN")
ISSUED = template("grant_issued")
PAYOUT = template("payout_confirm")


def test_the_built_in_templates_and_their_purposes() -> None:
    assert {name: spec.purpose.value for name, spec in TEMPLATES.items()} == {
        "grant_issued": "promotional",
        "grant_expiring": "promotional",
        "payout_confirm": "transactional",
        "compensation_applied": "transactional",
        "claim_decided": "transactional",
    }
    with pytest.raises(InputError, match="template: 'grant_isued' is not one of grant_issued"):
        template("grant_isued")


def test_a_message_missing_a_parameter_names_it() -> None:
    with pytest.raises(InputError, match="grant_issued: parameter 'claim_deadline_us' is missing"):
        check_params(ISSUED, {"campaign_name": "x", "amount_minor": 1, "currency": "CNY", "timezone": "UTC"})
    with pytest.raises(InputError, match="decision 'maybe'"):
        check_params(
            template("claim_decided"),
            {
                "campaign_name": "x",
                "claim_id": "C1",
                "decision": "maybe",
                "amount_minor": 0,
                "currency": "CNY",
            },
        )


@pytest.mark.parametrize(
    ("recipient", "channel", "reason"),
    [
        (Recipient("A1"), Channel.EMAIL, Reason.NO_CONTACT),
        (Recipient("A1", email="lin@example.com"), Channel.SMS, Reason.NO_CONTACT),
        (Recipient("A1"), Channel.INAPP, None),  # the account is the address
        (Recipient("A1"), Channel.WEBHOOK, None),
        (
            Recipient("A1", phone="+8613800138000", opted_out=opt_out_all(Channel.SMS)),
            Channel.SMS,
            Reason.OPTED_OUT,
        ),
    ],
)
def test_contact_and_consent(recipient: Recipient, channel: Channel, reason: Reason | None) -> None:
    decision = decide(recipient, channel, ISSUED, "grant_issued:G1", NOON_US)
    assert (decision.send, decision.reason) == (reason is None, reason)


def test_opting_out_of_promotions_keeps_what_the_person_is_owed() -> None:
    lin = Recipient(
        "A1", email="lin@example.com", opted_out=frozenset({(Channel.EMAIL, Purpose.PROMOTIONAL)})
    )
    assert decide(lin, Channel.EMAIL, ISSUED, "grant_issued:G1", NOON_US).reason is Reason.OPTED_OUT
    assert decide(lin, Channel.EMAIL, PAYOUT, "payout_confirm:P1", NOON_US).send


def test_already_told_is_per_topic_and_channel() -> None:
    told = [SentRecord(Channel.EMAIL, "grant_issued:G1", Purpose.PROMOTIONAL, NOON_US - US_PER_DAY * 30)]
    assert decide(LIN, Channel.EMAIL, ISSUED, "grant_issued:G1", NOON_US, told).reason is Reason.ALREADY_TOLD
    assert decide(LIN, Channel.SMS, ISSUED, "grant_issued:G1", NOON_US, told).send
    assert decide(LIN, Channel.EMAIL, ISSUED, "grant_issued:G2", NOON_US, told).send
    # Transactional messages are told once too: a payout confirmation is not repeated by a re-run.
    paid = [SentRecord(Channel.SMS, "payout_confirm:P1", Purpose.TRANSACTIONAL, NOON_US - HOUR_US)]
    assert decide(LIN, Channel.SMS, PAYOUT, "payout_confirm:P1", NOON_US, paid).reason is Reason.ALREADY_TOLD


def test_the_frequency_cap_counts_promotional_messages_in_its_window_only() -> None:
    recent = [
        SentRecord(Channel.SMS, "grant_issued:G1", Purpose.PROMOTIONAL, NOON_US - 2 * HOUR_US),
        SentRecord(Channel.SMS, "grant_issued:G2", Purpose.PROMOTIONAL, NOON_US - HOUR_US),
    ]
    assert decide(LIN, Channel.SMS, ISSUED, "grant_issued:G3", NOON_US, recent).reason is Reason.FREQUENCY_CAP
    assert decide(LIN, Channel.SMS, PAYOUT, "payout_confirm:P1", NOON_US, recent).send  # never capped
    assert decide(LIN, Channel.EMAIL, ISSUED, "grant_issued:G3", NOON_US, recent).send  # another channel
    a_day_later = NOON_US + US_PER_DAY - 2 * HOUR_US
    assert decide(LIN, Channel.SMS, ISSUED, "grant_issued:G3", a_day_later, recent).send
    transactional = [
        SentRecord(Channel.SMS, f"payout_confirm:P{n}", Purpose.TRANSACTIONAL, NOON_US) for n in range(5)
    ]
    assert decide(LIN, Channel.SMS, ISSUED, "grant_issued:G3", NOON_US, transactional).send


def test_reasons_come_in_one_order_so_counts_add_up() -> None:
    lin = Recipient("A1", phone="+8613800138000", opted_out=opt_out_all(Channel.SMS))
    told = [SentRecord(Channel.SMS, "grant_issued:G1", Purpose.PROMOTIONAL, NOON_US)]
    at_night = to_us(datetime(2026, 12, 4, 23, 0, tzinfo=SHANGHAI))
    assert decide(lin, Channel.SMS, ISSUED, "grant_issued:G1", at_night, told).reason is Reason.OPTED_OUT
    assert decide(LIN, Channel.SMS, ISSUED, "grant_issued:G1", at_night, told).reason is Reason.ALREADY_TOLD
    capped = Policy(caps={Channel.SMS: FrequencyCap(1, US_PER_DAY)})
    assert (
        decide(LIN, Channel.SMS, ISSUED, "grant_issued:G2", at_night, told, capped).reason
        is Reason.FREQUENCY_CAP
    )


def test_promotional_sms_waits_for_the_recipients_morning() -> None:
    at_night = to_us(datetime(2026, 12, 4, 23, 30, tzinfo=SHANGHAI))
    decision = decide(LIN, Channel.SMS, ISSUED, "grant_issued:G1", at_night)
    assert (decision.send, decision.reason) == (False, Reason.QUIET_HOURS)
    assert decision.not_before_us == to_us(datetime(2026, 12, 5, 8, 0, tzinfo=SHANGHAI))
    assert decide(LIN, Channel.EMAIL, ISSUED, "grant_issued:G1", at_night).send  # email waits for nobody
    assert decide(LIN, Channel.SMS, PAYOUT, "payout_confirm:P1", at_night).send
    # The recipient's zone, not the server's: 23:30 in Shanghai is 10:30 in New York.
    abroad = Recipient("A2", phone="+12125550100", timezone="America/New_York")
    assert decide(abroad, Channel.SMS, ISSUED, "grant_issued:G1", at_night).send
    with pytest.raises(InputError, match=r"recipient\.timezone: unknown time zone 'Mars/Olympus'"):
        decide(
            Recipient("A3", phone="+8613800138000", timezone="Mars/Olympus"),
            Channel.SMS,
            ISSUED,
            "t",
            NOON_US,
        )


WINDOW = SendingWindow()
ZONES = sorted(
    z for z in available_timezones() if "/" in z and not z.startswith(("posix/", "right/", "Etc/"))
)
INSTANTS = st.integers(
    min_value=to_us(datetime(2000, 1, 1, tzinfo=UTC)), max_value=to_us(datetime(2040, 1, 1, tzinfo=UTC))
)


@settings(max_examples=300, deadline=None)
@given(now_us=INSTANTS, zone_name=st.sampled_from(ZONES), data=st.data())
def test_the_window_opens_at_the_next_local_eight_oclock_in_any_zone(
    now_us: int, zone_name: str, data: st.DataObject
) -> None:
    tz = ZoneInfo(zone_name)
    opens_us = window_opens_after(now_us, tz, WINDOW)
    local = from_us(now_us, tz)
    inside = 8 <= local.hour < 22
    assert in_window(now_us, tz, WINDOW) is inside
    if inside:
        assert opens_us == now_us
        return
    assert now_us < opens_us <= now_us + 34 * HOUR_US  # 22:00 to the next 08:00, plus a DST hour or two
    assert in_window(opens_us, tz, WINDOW)
    # The first such instant: anything between now and the opening is still the recipient's night.
    between_us = data.draw(st.integers(min_value=now_us, max_value=opens_us - 1))
    assert not in_window(between_us, tz, WINDOW)


@given(minutes_past_midnight=st.integers(min_value=0, max_value=24 * 60 - 1))
def test_the_window_is_08_to_22_local_on_both_sides_of_midnight(minutes_past_midnight: int) -> None:
    day = datetime(2026, 12, 4, tzinfo=SHANGHAI)
    now_us = to_us(day + timedelta(minutes=minutes_past_midnight))
    assert in_window(now_us, SHANGHAI, WINDOW) is (8 * 60 <= minutes_past_midnight < 22 * 60)
    opening = window_opens_after(now_us, SHANGHAI, WINDOW)
    expected_day = day + timedelta(days=1) if minutes_past_midnight >= 22 * 60 else day
    if not 8 * 60 <= minutes_past_midnight < 22 * 60:
        assert opening == to_us(expected_day.replace(hour=8))


# Reminders -------------------------------------------------------------------------------------

EXPIRES_US = to_us(datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI))
ISSUED_US = EXPIRES_US - 30 * US_PER_DAY


def test_reminders_default_to_seven_days_and_one_day_before_expiry() -> None:
    assert DEFAULT_REMIND_BEFORE == ("7d", "1d")
    assert [(r.offset, r.due_at_us) for r in reminders(EXPIRES_US, ISSUED_US, DEFAULT_REMIND_BEFORE)] == [
        ("7d", EXPIRES_US - 7 * US_PER_DAY),
        ("1d", EXPIRES_US - US_PER_DAY),
    ]
    # Written in any order; an offset before issuance is dropped; duplicates are refused.
    assert [r.offset for r in reminders(EXPIRES_US, EXPIRES_US - 3 * US_PER_DAY, ["1d", "7d", "36h"])] == [
        "36h",
        "1d",
    ]
    with pytest.raises(InputError, match="'24h' is the same offset as '1d'"):
        reminders(EXPIRES_US, ISSUED_US, ["1d", "24h"])
    with pytest.raises(InputError, match=r"notify\.remind_before"):
        reminders(EXPIRES_US, ISSUED_US, ["soon"])


def test_one_reminder_at_a_time_and_never_after_expiry() -> None:
    def plan(now_us: int, sent: tuple[str, ...] = ()) -> tuple[str | None, list[str]]:
        result = reminder_due(EXPIRES_US, ISSUED_US, DEFAULT_REMIND_BEFORE, now_us, sent)
        return (result.send.offset if result.send else None, [r.offset for r in result.superseded])

    assert plan(EXPIRES_US - 8 * US_PER_DAY) == (None, [])
    assert plan(EXPIRES_US - 7 * US_PER_DAY) == ("7d", [])
    assert plan(EXPIRES_US - 2 * US_PER_DAY, ("7d",)) == (None, [])
    assert plan(EXPIRES_US - HOUR_US, ("7d",)) == ("1d", [])
    assert plan(EXPIRES_US - HOUR_US, ("7d", "1d")) == (None, [])
    # A worker down for a week tells the nearer offset only; the other is recorded as superseded.
    assert plan(EXPIRES_US - HOUR_US) == ("1d", ["7d"])
    assert plan(EXPIRES_US) == (None, ["7d", "1d"])


@given(
    offsets=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=4, unique=True),
    steps=st.lists(st.integers(min_value=1, max_value=5 * 24), min_size=1, max_size=40),
)
def test_a_worker_polling_at_any_pace_sends_each_offset_at_most_once_and_in_order(
    offsets: list[int], steps: list[int]
) -> None:
    texts = [f"{days}d" for days in offsets]
    sent: list[str] = []
    now_us = ISSUED_US
    for hours in steps:
        now_us += hours * HOUR_US
        result = reminder_due(EXPIRES_US, ISSUED_US, texts, now_us, sent)
        sent += [r.offset for r in result.superseded]
        if result.send is not None:
            assert result.send.due_at_us <= now_us < EXPIRES_US
            sent.append(result.send.offset)
    assert len(sent) == len(set(sent))


def test_days_left_rounds_up_and_topics_name_what_they_are_about() -> None:
    assert days_left(EXPIRES_US, EXPIRES_US - 20 * HOUR_US) == 1
    assert days_left(EXPIRES_US, EXPIRES_US - 7 * US_PER_DAY) == 7
    assert days_left(EXPIRES_US, EXPIRES_US + 1) == 0
    assert topic_of("grant_expiring", "G1", "7d") == "grant_expiring:G1:7d"
    assert topic_of("grant_issued", "G1") == "grant_issued:G1"
