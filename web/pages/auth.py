"""Sign-in with the node's demo users (while dev tokens are enabled), sign-out, and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from web.deps import Visitor, Web
from web.failures import local_path
from web.forms import FormErrors, text
from web.i18n import LANGUAGES, N_
from web.render import gettext_for, page
from web.session import LANG_COOKIE, cookie_header
from web.users import demo_users, find_user

router = APIRouter()
YEAR_S = 365 * 24 * 3600


def _picker_or_404(web: Web) -> None:
    # With an OIDC issuer configured there are no dev tokens, so there is no picker either.
    if not web.config.dev_sign_in:
        raise HTTPException(404)


@router.get("/login")
async def login_page(request: Request, web: Web) -> Response:
    """The demo users of this node, to sign in as one of them."""
    _picker_or_404(web)
    return await page(request, "login.html", users=demo_users(web.config), errors=FormErrors(), chosen="")


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
async def logout(web: Web, visitor: Visitor) -> Response:
    """End the session: the token is gone from the cookie."""
    visitor.sign_out()
    visitor.say(N_("You have signed out."))
    return RedirectResponse("/login" if web.config.dev_sign_in else "/", status_code=303)


@router.post("/language")
async def switch_language(request: Request, web: Web) -> Response:
    """Remember the chosen language (a year) and go back to the page it was chosen on."""
    form = await request.form()
    lang = text(form, "lang")
    response = RedirectResponse(local_path(text(form, "next")), status_code=303)
    if lang in LANGUAGES:
        secure = web.config.secure_cookies or request.url.scheme == "https"
        response.headers.append("set-cookie", cookie_header(LANG_COOKIE, lang, secure=secure,
                                                            max_age=YEAR_S).decode("latin-1"))
    return response
