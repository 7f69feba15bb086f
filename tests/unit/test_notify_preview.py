"""The console's template preview and funnel on the memory fakes: what ``notify send`` then ``deliver``
word for an account, in its language, with nothing stored or sent; and who opened afterwards."""

from __future__ import annotations

import pytest

from pledge.adapters.notifications.render import Renderer
from pledge.domain.errors import InputError, NotFoundError, RefusedError
from pledge.domain.notifications import Channel
from pledge.usecases.grants import claim_grant, list_grants
from pledge.usecases.notify import send_distribution
from pledge.usecases.notify_funnel import campaign_funnels
from pledge.usecases.notify_preview import preview_message
from tests.support.notify import PUBLIC_URL
from tests.unit.test_notify_distributions import FakeChannel, _deliver, _world
from tests.unit.test_usecases import CID, CLOCK, Clock

RENDERER = Renderer(PUBLIC_URL)


def test_the_preview_is_what_is_sent_in_the_account_language() -> None:
    world = _world()
    zh = preview_message(world.uow, CLOCK, RENDERER, CID, "grant_issued", "A-cn-1")
    en = preview_message(world.uow, CLOCK, RENDERER, CID, "grant_issued", "A-cn-2")
    assert (zh.locale, en.locale) == ("zh-CN", "en")
    assert "1,999.00" in zh.email.text or "1999.00" in zh.email.text
    assert zh.email.subject != en.email.subject and zh.sms.text
    assert (
        world.store.notifications.messages == {} or not world.store.notifications.messages
    )  # nothing stored
    send_distribution(world.uow, CLOCK, CID, "grant_issued", (Channel.EMAIL, Channel.SMS), 0, "ops")
    email, sms = FakeChannel(Channel.EMAIL), FakeChannel(Channel.SMS)
    _deliver(world, CLOCK.instant_us, email, sms)
    sent = {(o.to, o.channel): o.rendered for o in [*email.sent, *sms.sent]}
    li = sent[("li@example.com", Channel.EMAIL)]
    assert (li.subject, _without_links(li.text)) == (
        zh.email.subject,
        _without_links(zh.email.text),
    )
    assert sent[("+8613800138001", Channel.SMS)].text == zh.sms.text
    assert sent[("ann@example.com", Channel.EMAIL)].subject == en.email.subject


def test_a_preview_needs_a_distributed_template_an_account_and_its_envelope() -> None:
    world = _world()
    with pytest.raises(InputError, match="template"):
        preview_message(world.uow, CLOCK, RENDERER, CID, "claim_decided", "A-cn-1")
    with pytest.raises(NotFoundError):
        preview_message(world.uow, CLOCK, RENDERER, CID, "grant_issued", "nobody")
    with pytest.raises(RefusedError, match="no envelope"):
        preview_message(world.uow, CLOCK, RENDERER, CID, "grant_issued", "A-cn-3")


def _without_links(text: str) -> str:
    """The unsubscribe link names the message; a preview names none."""
    return "\n".join(line for line in text.splitlines() if PUBLIC_URL not in line)


def test_the_funnel_counts_envelopes_opened_after_the_message() -> None:
    world = _world()
    sent = send_distribution(world.uow, CLOCK, CID, "grant_issued", (Channel.EMAIL, Channel.INAPP), 0, "ops")
    _deliver(world, CLOCK.instant_us, FakeChannel(Channel.EMAIL))
    grant = list_grants(world.uow, account_id="A-cn-1").rows[0]
    claim_grant(world.uow, Clock(CLOCK.instant_us + 60_000_000), grant.id)
    (funnel,) = campaign_funnels(world.uow, CID)
    assert funnel.record.id == sent.id
    counts = funnel.counts
    assert (counts.planned, counts.sent, counts.failed, counts.suppressed, funnel.opened) == (6, 5, 0, 1, 1)
