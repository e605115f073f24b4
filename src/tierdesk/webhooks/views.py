"""Admin pages for webhook subscriptions (admins, and leads in their brands, as the API): the subscriptions of each
brand, a new one (its signing secret shown this once), edits, disable and enable, a test ping, and the deliveries
of one with their attempts and a redeliver button. Every change goes through webhooks.service with the API's
schemas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from tierdesk.brands import repository as brands
from tierdesk.brands.models import Brand
from tierdesk.brands.service import resolve_brand
from tierdesk.deps import Db, SignedInAgent
from tierdesk.kit import forms
from tierdesk.kit.errors import NotFound
from tierdesk.kit.input import PathId, QueryId
from tierdesk.kit.pages import csrf_protect, render
from tierdesk.kit.vocabulary import AgentRole, Department
from tierdesk.queues import repository as queues
from tierdesk.webhooks import service
from tierdesk.webhooks.models import WebhookSubscription
from tierdesk.webhooks.schemas import SUBSCRIBABLE, SubscriptionCreate, SubscriptionUpdate

router = APIRouter(dependencies=[Depends(csrf_protect)])

DELIVERIES_SHOWN = 20


def _may_manage(who: SignedInAgent) -> None:
    who.principal.require_role(AgentRole.LEAD)


@router.get("/admin/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, db: Db, who: SignedInAgent) -> Response:
    subscriptions = service.list_subscriptions(db, who.principal)
    shown = brands.list_visible(db, who.principal)
    names = {q.id: q.slug for q in queues.list_visible(db, who.principal)}
    return render(request, "webhooks/index.html", who=who, section="admin", brands=shown, queue_names=names,
                  by_brand={b.id: [s for s in subscriptions if s.brand_id == b.id] for b in shown},
                  every_brand=[s for s in subscriptions if s.brand_id is None],
                  done=request.query_params.get("done"))


def _values(subscription: WebhookSubscription | None, form: FormData | None) -> dict[str, Any]:
    if form is not None:
        return {"name": forms.field_text(form, "name"), "url": forms.field_text(form, "url"),
                "events": forms.field_texts(form, "events"), "queues": forms.field_texts(form, "queues"),
                "departments": forms.field_texts(form, "departments")}
    if subscription is None:
        return {"name": "", "url": "", "events": [], "queues": [], "departments": []}
    return {"name": subscription.name, "url": subscription.url, "events": list(subscription.events),
            "queues": [str(q) for q in subscription.queue_ids], "departments": list(subscription.departments)}


def _filters(form: FormData) -> dict[str, Any]:
    return {"url": forms.field_text(form, "url"), "name": forms.optional(form, "name"),
            "events": forms.field_texts(form, "events"), "queues": forms.field_texts(form, "queues"),
            "departments": forms.field_texts(form, "departments")}


def _page(request: Request, db: Db, who: SignedInAgent, brand: Brand | None, subscription: WebhookSubscription | None,
          form: FormData | None = None, errors: dict[str, str] | None = None, status_code: int | None = None,
          before: int | None = None) -> Response:
    deliveries: list[Any] = []
    if subscription is not None:
        deliveries = service.deliveries(db, who.principal, subscription.id, before_id=before, limit=DELIVERIES_SHOWN)
    return render(request, "webhooks/subscription.html", status_code=status_code or (422 if errors else 200),
                  who=who, section="admin", brand=brand, subscription=subscription,
                  values=_values(subscription, form), errors=errors or {}, events=SUBSCRIBABLE,
                  departments=list(Department),
                  queues=queues.list_visible(db, who.principal, brand.id) if brand else [],
                  deliveries=deliveries[:DELIVERIES_SHOWN],
                  older=deliveries[DELIVERIES_SHOWN - 1].id if len(deliveries) > DELIVERIES_SHOWN else None,
                  done=request.query_params.get("done"))


@router.get("/admin/webhooks/new", response_class=HTMLResponse)
def new_subscription_page(request: Request, db: Db, who: SignedInAgent, brand: str) -> Response:
    _may_manage(who)
    return _page(request, db, who, resolve_brand(db, who.principal, brand), None)


@router.post("/admin/webhooks/new", response_class=HTMLResponse)
def create_subscription(request: Request, db: Db, who: SignedInAgent, form: forms.Posted, brand: str) -> Response:
    _may_manage(who)
    found = resolve_brand(db, who.principal, brand)

    def create() -> tuple[WebhookSubscription, str]:
        data = SubscriptionCreate.model_validate({"brand": found.slug, **_filters(form)})
        return service.create(db, who.principal, data, request.app.state.secret_key)

    created, errors = forms.attempt(db, create)
    if created is None:
        return _page(request, db, who, found, None, form, errors)
    subscription, secret = created
    # Shown this once, on this answer only (never in a URL, never stored readable).
    return render(request, "webhooks/created.html", status_code=201, who=who, section="admin", brand=found,
                  subscription=subscription, secret=secret)


def _subscription(db: Db, who: SignedInAgent, subscription_id: int) -> tuple[WebhookSubscription, Brand | None]:
    subscription = service.get(db, who.principal, subscription_id)
    brand = brands.get_visible(db, who.principal, subscription.brand_id) if subscription.brand_id else None
    return subscription, brand


@router.get("/admin/webhooks/{subscription_id}", response_class=HTMLResponse)
def subscription_page(request: Request, subscription_id: PathId, db: Db, who: SignedInAgent,
                      before: QueryId = None) -> Response:
    subscription, brand = _subscription(db, who, subscription_id)
    return _page(request, db, who, brand, subscription, before=before)


@router.post("/admin/webhooks/{subscription_id}", response_class=HTMLResponse)
def update_subscription(request: Request, subscription_id: PathId, db: Db, who: SignedInAgent,
                        form: forms.Posted) -> Response:
    subscription, brand = _subscription(db, who, subscription_id)
    body = _filters(form)
    if subscription.from_settings:  # only its name follows no setting
        body = {"name": body["name"]}

    saved, errors = forms.attempt(db, lambda: service.update(db, who.principal, subscription.id,
                                                             SubscriptionUpdate.model_validate(body)))
    if saved is None:
        db.expire_all()
        return _page(request, db, who, brand, service.get(db, who.principal, subscription_id), form, errors)
    return RedirectResponse(f"/admin/webhooks/{saved.id}?done=saved", status_code=303)


def _act(request: Request, db: Db, who: SignedInAgent, subscription_id: int, done: str, action: Any) -> Response:
    """A button on the subscription's page: done, back to the page; refused (disabled), the page says why (409)."""
    subscription, brand = _subscription(db, who, subscription_id)
    _result, errors = forms.attempt(db, action)
    if errors:
        db.expire_all()
        return _page(request, db, who, brand, service.get(db, who.principal, subscription_id),
                     errors={"action": next(iter(errors.values()))}, status_code=409)
    return RedirectResponse(f"/admin/webhooks/{subscription.id}?done={done}", status_code=303)


@router.post("/admin/webhooks/{subscription_id}/enable", response_class=HTMLResponse)
def enable(request: Request, subscription_id: PathId, db: Db, who: SignedInAgent) -> Response:
    return _act(request, db, who, subscription_id, "enabled", lambda: service.update(
        db, who.principal, subscription_id, SubscriptionUpdate(is_active=True)))


@router.post("/admin/webhooks/{subscription_id}/disable", response_class=HTMLResponse)
def disable(request: Request, subscription_id: PathId, db: Db, who: SignedInAgent) -> Response:
    return _act(request, db, who, subscription_id, "disabled", lambda: service.update(
        db, who.principal, subscription_id, SubscriptionUpdate(is_active=False)))


@router.post("/admin/webhooks/{subscription_id}/ping", response_class=HTMLResponse)
def ping(request: Request, subscription_id: PathId, db: Db, who: SignedInAgent) -> Response:
    return _act(request, db, who, subscription_id, "ping", lambda: service.ping(db, who.principal, subscription_id))


@router.post("/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver", response_class=HTMLResponse)
def redeliver(request: Request, subscription_id: PathId, delivery_id: PathId, db: Db, who: SignedInAgent) -> Response:
    delivery = service.get_delivery(db, who.principal, delivery_id)
    if delivery.subscription_id != subscription_id:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    return _act(request, db, who, subscription_id, "redelivered",
                lambda: service.redeliver(db, who.principal, delivery_id))


@router.post("/admin/webhooks/{subscription_id}/delete", response_class=HTMLResponse)
def delete(request: Request, subscription_id: PathId, db: Db, who: SignedInAgent) -> Response:
    subscription, _brand = _subscription(db, who, subscription_id)
    _result, errors = forms.attempt(db, lambda: service.delete(db, who.principal, subscription.id))
    if errors:
        return _page(request, db, who, _brand, subscription, errors={"action": next(iter(errors.values()))},
                     status_code=409)
    return RedirectResponse("/admin/webhooks?done=deleted", status_code=303)
