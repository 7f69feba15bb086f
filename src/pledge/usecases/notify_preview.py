"""A template as one account would receive it, nothing sent (ADR 26): the console's preview.

The same parameters (:func:`pledge.usecases.notify.grant_params`, from the account's envelope of
the campaign that expires first, else its newest) and the same renderer ``notify send`` and
``notify deliver`` use, in the account's language, for email (subject and text) and SMS.
"""

from __future__ import annotations

from dataclasses import dataclass

from pledge.domain.distributions import DISTRIBUTED_TEMPLATES, distributed_template
from pledge.domain.errors import NotFoundError, RefusedError
from pledge.domain.grant import Grant, GrantState
from pledge.domain.notifications import Channel, Rendered
from pledge.usecases.common import require_campaign
from pledge.usecases.notification_ports import TemplateRenderer
from pledge.usecases.notify import campaign_wording, grant_params
from pledge.usecases.ports import Clock, UnitOfWorkFactory

PREVIEW_ID = "msg_preview"  # links in a preview name no real message: they unsubscribe nobody


@dataclass(frozen=True, slots=True)
class MessagePreview:
    """A template worded for one account, from the parameters of one of its envelopes (``grant_id``)."""

    campaign: str
    template: str
    account_id: str
    locale: str
    grant_id: str
    email: Rendered  # subject and text
    sms: Rendered  # text


def _envelope(grants: list[Grant]) -> Grant | None:
    """The unopened envelope expiring first (as a distribution picks it), else the newest."""
    unopened = sorted((g for g in grants if g.state is GrantState.ISSUED), key=lambda g: g.expires_at_us)
    if unopened:
        return unopened[0]
    return max(grants, key=lambda g: g.issued_at_us, default=None)


def preview_message(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    renderer: TemplateRenderer,
    campaign_id: str,
    template_name: str,
    account_id: str,
) -> MessagePreview:
    """Subject and texts of ``template_name`` for ``account_id`` in its language; nothing is stored."""
    distributed_template(template_name)
    now = clock.now_us()
    with uow_factory() as uow:
        require_campaign(uow, campaign_id)
        record, _ = uow.purchases.of_account(account_id)
        if record is None:
            raise NotFoundError(
                f"account {account_id} does not exist", code="account_not_found", param="account"
            )
        grant = _envelope(
            uow.grants.page(campaign_id=campaign_id, account_id=account_id, starting_after=None, limit=100)
        )
        if grant is None:
            raise RefusedError(
                f"account {account_id} holds no envelope of campaign {campaign_id}: nothing to word",
                code="no_envelope",
                param="account",
            )
        params = grant_params(grant, campaign_wording(uow, campaign_id), template_name, now)
    email = renderer.render(
        template_name, record.locale, params, channel=Channel.EMAIL.value, message_id=PREVIEW_ID
    )
    sms = renderer.render(
        template_name, record.locale, params, channel=Channel.SMS.value, message_id=PREVIEW_ID
    )
    return MessagePreview(campaign_id, template_name, account_id, record.locale, grant.id, email, sms)


TEMPLATE_CHOICES = DISTRIBUTED_TEMPLATES
