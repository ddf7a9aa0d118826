"""Sign-in: at the OIDC issuer, or with the node's demo users while dev tokens are enabled; sign-out; language."""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from web.deps import Visitor, Web
from web.failures import local_path
from web.forms import FormErrors, text
from web.i18n import LANGUAGES, N_
from web.oidc import CALLBACK_PATH, PENDING_COOKIE, Problem, SignedIn, SignInFailed, callback_url, provider_of
from web.render import gettext_for, language, page
from web.session import LANG_COOKIE, WebSession, cookie_header
from web.users import demo_users, find_user

log = logging.getLogger(__name__)
router = APIRouter()
YEAR_S = 365 * 24 * 3600
# What each failed sign-in answers: the provider unreachable is ours to fix, a refusal is the user's to see
STATUS = {Problem.UNREACHABLE: 503, Problem.DECLINED: 403, Problem.STALE: 400, Problem.INVALID: 502,
          Problem.NO_ROLE: 403}


def _picker_or_404(web: Web) -> None:
    # With an OIDC issuer configured there are no dev tokens, so there is no picker either.
    if not web.config.dev_sign_in:
        raise HTTPException(404)


def _secure(request: Request, web: Web) -> bool:
    return web.config.secure_cookies or request.url.scheme == "https"


@router.get("/login")
async def login_page(request: Request, web: Web, visitor: Visitor) -> Response:
    """With an issuer: off to sign in there (or first a page with a message); else the node's demo users."""
    if web.config.dev_sign_in:
        return await page(request, "login.html", users=demo_users(web.config), errors=FormErrors(), chosen="")
    if visitor.signed_in:
        return RedirectResponse("/", status_code=303)
    provider = provider_of(request, web.config)
    if visitor.flash is not None:  # signed out, or timed out: say so, and sign in only when asked to
        return await page(request, "login_oidc.html", end_session=await provider.end_session_url())
    try:
        url, pending = await provider.start(callback_url(request), language(request))
    except SignInFailed as exc:
        return await _failed(request, web, exc)
    response = RedirectResponse(url, status_code=303)
    response.headers.append("set-cookie", provider.pending.header(pending, secure=_secure(request, web)))
    return response


@router.get(CALLBACK_PATH)
async def oidc_callback(request: Request, web: Web, visitor: Visitor) -> Response:
    """The provider's answer: the code exchanged and checked, the session started; or a page saying why not."""
    if web.config.dev_sign_in:
        raise HTTPException(404)
    provider = provider_of(request, web.config)
    pending = provider.pending.load(request.cookies.get(PENDING_COOKIE))
    params = request.query_params
    try:
        # An error changes nothing, so it needs no state (some providers leave it out of error answers)
        if "error" in params:
            raise SignInFailed(Problem.DECLINED, f"the provider answered {params['error']!r}")
        if pending is None or not hmac.compare_digest(params.get("state", "").encode(), pending.state.encode()):
            raise SignInFailed(Problem.STALE, "no sign-in of this browser has this state (or it took too long)")
        if not params.get("code"):
            raise SignInFailed(Problem.INVALID, "the answer has neither a code nor an error")
        signed = await provider.finish(pending, params["code"], callback_url(request))
        trial = WebSession()
        _start(trial, signed)
        if not trial.fits():  # the browser would drop the cookie, and the user would be sent round in circles
            raise SignInFailed(Problem.INVALID, f"the token ({len(signed.token)} bytes) is too large for the "
                                                "session cookie: ask the provider for fewer claims")
    except SignInFailed as exc:
        response = await _failed(request, web, exc)
    else:
        _start(visitor, signed)
        response = RedirectResponse("/", status_code=303)
    response.headers.append("set-cookie", provider.pending.header(None, secure=_secure(request, web)))
    return response


def _start(session: WebSession, signed: SignedIn) -> None:
    principal = signed.principal
    session.sign_in(token=signed.token, sub=principal.sub, roles=sorted(principal.roles),
                    tenants=sorted(principal.tenants))


async def _failed(request: Request, web: Web, exc: SignInFailed) -> Response:
    """A page saying why the sign-in did not happen; the details go to the log only."""
    log.warning("OIDC sign-in failed (%s): %s", exc.problem, exc.detail)
    end_session = None
    if exc.problem in (Problem.NO_ROLE, Problem.DECLINED):
        end_session = await provider_of(request, web.config).end_session_url()
    return await page(request, "sign_in_failed.html", status_code=STATUS[exc.problem], problem=str(exc.problem),
                      end_session=end_session)


@router.post("/login")
async def login(request: Request, web: Web, visitor: Visitor) -> Response:
    """Start a session as the chosen demo user, with a dev token minted here on the server."""
    _picker_or_404(web)
    chosen = text(await request.form(), "sub")
    user = find_user(web.config, chosen)
    if user is None:
        errors = FormErrors()
        errors.add("sub", gettext_for(request).gettext("Choose a demo user"))
        return await page(request, "login.html", status_code=422, users=demo_users(web.config), errors=errors,
                          chosen=chosen)
    visitor.sign_in(token=user.token(web.config), sub=user.sub, roles=[user.role], tenants=list(user.tenants))
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(visitor: Visitor) -> Response:
    """End the session: the token is gone from the cookie."""
    visitor.sign_out()
    visitor.say(N_("You have signed out."))
    # With an issuer, /login then shows the message and a way to sign out at the provider too: a redirect
    # there straight from this form would break the CSP's form-action 'self'.
    return RedirectResponse("/login", status_code=303)


@router.post("/language")
async def switch_language(request: Request, web: Web) -> Response:
    """Remember the chosen language (a year) and go back to the page it was chosen on."""
    form = await request.form()
    lang = text(form, "lang")
    response = RedirectResponse(local_path(text(form, "next")), status_code=303)
    if lang in LANGUAGES:
        response.headers.append("set-cookie", cookie_header(LANG_COOKIE, lang, secure=_secure(request, web),
                                                            max_age=YEAR_S).decode("latin-1"))
    return response
