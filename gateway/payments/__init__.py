"""Taking payment for held seats: the provider seam, Stripe and the local checkout, webhook
handling and the outbox worker. `open_payments` assembles them for one web process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from gateway.payments.local_checkout import LocalCheckout
from gateway.payments.outbox import OutboxWorker
from gateway.payments.provider import PaymentProvider
from gateway.payments.stripe_provider import StripeProvider
from gateway.payments.webhook import OnOutcome, WebhookHandler

if TYPE_CHECKING:
    from config import Settings
    from engine.client import EngineClient
    from engine.redis_client import RedisClient
    from gateway.metrics import GatewayMetrics
    from persistence import Database

__all__ = ["PaymentProvider", "open_payments", "webhook_handler"]


def webhook_handler(
    settings: Settings,
    *,
    db: Database,
    engine: EngineClient,
    redis: RedisClient,
    on_outcome: OnOutcome | None = None,
) -> WebhookHandler:
    return WebhookHandler(
        db=db,
        engine=engine,
        redis=redis,
        engine_settings=settings.engine,
        webhook_secret=settings.stripe.webhook_secret,
        on_outcome=on_outcome,
    )


@asynccontextmanager
async def open_payments(
    settings: Settings,
    *,
    db: Database,
    engine: EngineClient,
    redis: RedisClient,
    metrics: GatewayMetrics | None = None,
) -> AsyncIterator[PaymentProvider]:
    """The configured provider, with this process's outbox worker running beside it; on exit
    the worker stops first, then the provider's connections close. `metrics` counts webhook
    outcomes and the outbox backlog."""
    provider: PaymentProvider
    if settings.stripe.secret_key is not None:
        provider = StripeProvider(
            secret_key=settings.stripe.secret_key, api_base=settings.stripe.api_base
        )
    else:
        provider = LocalCheckout(
            db=db,
            webhooks=webhook_handler(
                settings,
                db=db,
                engine=engine,
                redis=redis,
                on_outcome=None if metrics is None else metrics.webhook_outcome,
            ),
            webhook_secret=settings.stripe.webhook_secret,
            public_url=settings.http.public_url,
        )
    try:
        on_backlog = None if metrics is None else metrics.outbox_counted
        async with OutboxWorker(db=db, provider=provider, on_backlog=on_backlog).running():
            yield provider
    finally:
        await provider.close()
