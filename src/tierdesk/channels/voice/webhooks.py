"""The provider's webhooks, compatible with Twilio's TwiML voice format: POST forms in, TwiML out.

Point a phone number of the brand at `<public URL>/channels/voice/<brand>/incoming` (A call comes in) and
`<public URL>/channels/voice/<brand>/status` (Call status changes); tierdesk names its other webhooks in the TwiML it
answers with. Every request must carry a valid X-Twilio-Signature made with the brand's auth token: 403 otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from tierdesk.brands.models import Brand
from tierdesk.brands.service import resolve_brand
from tierdesk.channels.voice import calls, signature
from tierdesk.channels.voice.calls import CallRequest
from tierdesk.channels.voice.service import config_of
from tierdesk.channels.voice.twiml import MEDIA_TYPE, VoiceAnswer
from tierdesk.config import Settings
from tierdesk.deps import Db
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.errors import DomainError, Forbidden
from tierdesk.kit.sealed import SealBroken

log = logging.getLogger("tierdesk.voice")
PREFIX = "/channels/voice"
router = APIRouter(prefix=PREFIX, tags=["voice webhooks"])

_FORM_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
    "schema": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "the provider's parameters (CallSid, From, To, CallStatus, Digits, ...)"}}}}}
_TWIML: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {}}, "description": "TwiML: what the provider does next"},
    403: {"description": "the X-Twilio-Signature is missing or wrong (or the brand has no auth token)"}}
_ACK: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {}}, "description": "an empty TwiML response"}, 403: _TWIML[403]}


async def provider_form(request: Request) -> list[tuple[str, str]]:
    form = await request.form()
    return [(name, value) for name, value in form.multi_items() if isinstance(value, str)]


Form = Annotated[list[tuple[str, str]], Depends(provider_form)]


def public_base(request: Request, settings: Settings) -> str:
    """Where the provider reaches tierdesk: TIERDESK_VOICE_PUBLIC_URL behind a proxy, else what this request says."""
    if settings.voice_public_url:
        return settings.voice_public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def signed_url(request: Request, settings: Settings) -> str:
    """The full URL the provider requested, and signed: the public base, the path, the query string."""
    query = request.url.query
    return public_base(request, settings) + request.url.path + (f"?{query}" if query else "")


def _verified(request: Request, db: Db, brand_ref: str, form: list[tuple[str, str]]) -> CallRequest:
    state = request.app.state
    settings: Settings = state.settings
    refused = Forbidden("the request's X-Twilio-Signature is missing or does not match the brand's auth token "
                        "and this URL (behind a proxy, set TIERDESK_VOICE_PUBLIC_URL)")
    try:
        brand: Brand = resolve_brand(db, SYSTEM, brand_ref)
    except DomainError:
        raise refused from None  # an unknown brand is refused like a bad signature: no probing for brands
    config = config_of(db, brand.id)
    try:
        token = config.auth_token(state.secret_key)
    except SealBroken:
        log.error("brand %s: its voice auth token cannot be decrypted (was TIERDESK_SECRET_KEY changed?): every "
                  "call is refused until it is set again", brand.slug)
        token = None
    if token is None or not signature.valid(token, signed_url(request, settings), form,
                                            request.headers.get(signature.HEADER),
                                            request.headers.get(signature.SETTINGS_HEADER)):
        raise refused
    return CallRequest(brand=brand, config=config, params=dict(form),
                       base_url=f"{public_base(request, settings)}{PREFIX}/{brand.slug}",
                       phone_region=settings.default_phone_region, intake=state.intake)


def _xml(answer: VoiceAnswer | None) -> Response:
    return Response((answer or VoiceAnswer()).render(), media_type=MEDIA_TYPE)


def _twiml_hook(path: str, summary: str, handler: Callable[..., VoiceAnswer]) -> None:
    def endpoint(brand: str, request: Request, db: Db, form: Form) -> Response:
        return _xml(handler(db, _verified(request, db, brand, form)))

    endpoint.__doc__ = handler.__doc__
    router.add_api_route(f"/{{brand}}/{path}", endpoint, methods=["POST"], summary=summary,
                         response_class=Response, responses=_TWIML, openapi_extra=_FORM_BODY,
                         name=f"voice_{path.replace('-', '_')}")


def _callback_hook(path: str, summary: str, handler: Callable[..., None]) -> None:
    def endpoint(brand: str, request: Request, db: Db, form: Form) -> Response:
        handler(db, _verified(request, db, brand, form))
        return _xml(None)

    endpoint.__doc__ = handler.__doc__
    router.add_api_route(f"/{{brand}}/{path}", endpoint, methods=["POST"], summary=summary,
                         response_class=Response, responses=_ACK, openapi_extra=_FORM_BODY,
                         name=f"voice_{path.replace('-', '_')}")


_twiml_hook("incoming", "A call comes in (the number's voice URL)", calls.incoming)
_twiml_hook("gather", "The caller answered the menu (Digits or SpeechResult), or did not", calls.gather)
_twiml_hook("wait", "The caller waits in the queue: connect them, or another turn of hold", calls.wait)
_twiml_hook("callback", "The caller pressed a key while on hold (the callback offer)", calls.callback)
_twiml_hook("dial-ended", "The <Dial> to the agent ended (DialCallStatus, DialCallDuration)", calls.dial_ended)
_callback_hook("agent-status", "Status of the agent's leg: ringing, answered, completed", calls.agent_status)
_callback_hook("status", "Status of the call (the number's status callback): completed with CallDuration, ...",
               calls.call_status)
_callback_hook("recording", "The call's recording is ready (RecordingUrl)", calls.recording)
_callback_hook("transcription", "The call's transcript is ready (TranscriptionText)", calls.transcription)
