"""The workspace's pages. `/` is the agent's work when someone is signed in, and the sign-in page otherwise."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tierdesk.agents.views import sign_in_page
from tierdesk.deps import Db, SignedInAgent, get_signed_in
from tierdesk.kit.pages import SignInRequired, csrf_protect, render

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: Db) -> Response:
    try:
        who = get_signed_in(request, db)
    except SignInRequired:
        return sign_in_page(request)
    return my_work(request, db, who)


def my_work(request: Request, db: Db, who: SignedInAgent) -> Response:
    return render(request, "workspace/my_work.html", who=who, section="work")
