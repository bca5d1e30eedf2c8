"""The admin cost review at /admin/costs/: parse, authorise, delegate to
``chatapp.cost_review.queries``.

Staff who may view usage records see every user's spend for a date range (default: this
month), per model and per day, drill down to a user's conversations and a conversation's
messages, and download the per-user table as CSV. Registered on the admin site
(``admin.site.admin_view``: staff login, no caching).
"""

from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import urlencode

from chatapp import audit, csv_files
from chatapp.billing import money
from chatapp.cost_review import queries as costs
from chatapp.cost_review import strategies
from chatapp.cost_review.chart import build_chart
from chatapp.cost_review.date_ranges import DateRange, InvalidRange
from chatapp.models import Message
from chatapp.policies.conversations import default_model_id
from chatapp.replies import model_router
from chatapp.safety import flags

PAGE_SIZE = 100
CSV_COLUMNS = (
    "user", "requests", "input_tokens", "output_tokens", "cache_write_tokens",
    "cache_read_tokens", "cost_usd", "cache_savings_usd", "batch_savings_usd", "groups",
)
STRATEGY_COLUMNS = ("user", "strategy", "label", "cost_usd", "difference_usd", "assumption")
USER_COLUMNS = (
    ("user", "User"), ("requests", "Requests"), ("input", "Input tokens"),
    ("output", "Output tokens"), ("cache_write", "Cache-write tokens"),
    ("cache_read", "Cache-read tokens"), ("cost", "Cost"), ("cache_savings", "Caching saved"),
    ("batch_savings", "Batching saved"), ("budget", "Monthly budget"), ("share", "Share used"),
)


def staff_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Admin login, then the permission to view usage records."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm("chatapp.view_usagerecord"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return admin.site.admin_view(checked)


def _period(request: HttpRequest) -> tuple[DateRange, str]:
    """The asked-for range, or this month and the reason the asked-for one was refused."""
    try:
        return DateRange.parse(request.GET.get("start"), request.GET.get("end")), ""
    except InvalidRange as exc:
        return DateRange.this_month(), str(exc)


def _headers(period: DateRange, order: str) -> list[dict[str, str]]:
    """Column headings that sort by themselves; a second click reverses the order."""
    current = order.removeprefix("-")
    headers = []
    for key, label in USER_COLUMNS:
        descending = order.startswith("-")
        if key == current:
            next_order = key if descending else f"-{key}"
            state = "descending" if descending else "ascending"
        else:
            next_order = key if key == "user" else f"-{key}"
            state = "none"
        query = urlencode({**period.as_query(), "o": next_order})
        headers.append({"key": key, "label": label, "url": f"?{query}", "sort": state})
    return headers


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


def _wait_share(request: HttpRequest) -> tuple[Decimal, str]:
    """The staff-chosen share (in percent) of other calls that could have waited."""
    raw = request.GET.get("wait") or "0"
    try:
        percent = Decimal(raw)
    except InvalidOperation:
        percent = Decimal(-1)
    if not 0 <= percent <= 100:
        return Decimal(0), "The share of calls that could wait must be a number from 0 to 100."
    return percent / 100, ""


def _add_flag_counts(page: Any, period: DateRange) -> None:
    """Each row of the page gains ``flagged``: its user's flagged replies in the range."""
    counts = flags.flagged_message_counts(period.since, period.until)
    rows = list(page.object_list)
    for row in rows:
        row["flagged"] = sum(counts.get(row["user"], {}).values())
    page.object_list = rows


@staff_view
def review(request: HttpRequest) -> HttpResponse:
    period, problem = _period(request)
    wait_share, wait_problem = _wait_share(request)
    comparison = strategies.compare_strategies(period, wait_share=wait_share)
    # This view is the cost review's edge (on the admin site): it reads the default model
    # itself, as chatapp/policies/conversations.py does for the other edges (the layers keep
    # cost_review below chatapp/policies/).
    default_model = default_model_id()
    order = costs.user_order(request.GET.get("o"))
    page = Paginator(costs.per_user(period, order), PAGE_SIZE).get_page(request.GET.get("page"))
    _add_flag_counts(page, period)
    query = period.as_query()
    return render(request, "admin/costs/review.html", _context(
        request, "Cost review",
        period=period, problem=problem, order=order, page=page,
        headers=_headers(period, order),
        totals=costs.totals(period),
        models=list(costs.per_model(period)),
        projects=costs.per_project(period),
        projects_csv_url=f"{reverse('cost-review-projects-csv')}?{urlencode(query)}",
        groups=list(costs.per_group(period)),
        chart=build_chart(costs.cost_by_day_and_model(period), period.days),
        range_query=urlencode(query),
        page_query=urlencode({**query, "o": order}),
        csv_url=f"{reverse('cost-review-csv')}?{urlencode(query)}",
        comparison=comparison,
        auto=model_router.auto_versus_default(
            Message.objects.filter(created_at__gte=period.since, created_at__lt=period.until),
            default_model,
        ),
        default_model=default_model,
        strategy_rows=comparison.rows(comparison.overall),
        user_strategy_rows=[(uid, name, comparison.rows(by_key))
                            for uid, name, by_key in comparison.users],
        wait_percent=f"{wait_share * 100:.0f}",
        wait_problem=wait_problem,
        strategies_csv_url=(f"{reverse('cost-review-strategies-csv')}?"
                            f"{urlencode({**query, 'wait': f'{wait_share * 100:.0f}'})}"),
    ))




def _csv_lines(period: DateRange) -> Iterator[str]:
    groups = costs.group_names_by_user()
    rows = costs.per_user(period, "user").iterator(chunk_size=2000)
    return csv_files.lines(CSV_COLUMNS, (
        [row["user__username"], row["requests"], row["input_tokens"], row["output_tokens"],
         row["cache_write_tokens"], row["cache_read_tokens"], money.csv_usd(row["cost"]),
         money.csv_usd(row["cache_savings"]), money.csv_usd(row["batch_savings"]),
         groups.get(row["user"], "")]
        for row in rows
    ))


PROJECT_CSV_COLUMNS = ["project", "user", "requests", "cost_usd", "cache_savings_usd"]


def _project_lines(period: DateRange) -> Iterator[str]:
    rows = costs.project_rows(period).iterator(chunk_size=2000)
    return csv_files.lines(PROJECT_CSV_COLUMNS, (
        [row["conversation__project__name"], row["user__username"], row["requests"],
         money.csv_usd(row["cost"]), money.csv_usd(row["cache_savings"])]
        for row in rows
    ))


def _plain_400(problem: str) -> HttpResponse:
    return HttpResponse(problem, status=400, content_type="text/plain; charset=utf-8")


def _csv_download(
    request: HttpRequest, file: str, period: DateRange, lines: Iterator[str]
) -> HttpResponse:
    """One of the review's CSVs for ``period``, streamed as a download, and audited."""
    audit.record(audit.AuditAction.COST_EXPORT, request,
                 detail={"file": file, "from": str(period.start), "to": str(period.end)})
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    name = f"{CSV_NAMES[file]}-{period.start}-to-{period.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


CSV_NAMES = {"users": "costs", "projects": "projects", "strategies": "strategies"}


def _exact_period(request: HttpRequest) -> DateRange | HttpResponse:
    """The asked-for range of a download, or its 400: a CSV never falls back to this month."""
    try:
        return DateRange.parse(request.GET.get("start"), request.GET.get("end"))
    except InvalidRange as exc:
        return _plain_400(str(exc))


@staff_view
def export_csv(request: HttpRequest) -> HttpResponse:
    period = _exact_period(request)
    if isinstance(period, HttpResponse):
        return period
    return _csv_download(request, "users", period, _csv_lines(period))


@staff_view
def export_projects_csv(request: HttpRequest) -> HttpResponse:
    """The projects' spend in the range, a row per project and user who asked in it."""
    period = _exact_period(request)
    if isinstance(period, HttpResponse):
        return period
    return _csv_download(request, "projects", period, _project_lines(period))


def _strategy_lines(comparison: strategies.Comparison) -> Iterator[str]:
    everyone = [(None, "(all users)", comparison.overall)]
    return csv_files.lines(STRATEGY_COLUMNS, (
        [name, row["strategy"].key, row["strategy"].label, money.csv_usd(row["cost"]),
         money.csv_usd(row["difference"]), row["strategy"].assumption]
        for _, name, by_key in everyone + comparison.users
        for row in comparison.rows(by_key)
    ))


@staff_view
def export_strategies_csv(request: HttpRequest) -> HttpResponse:
    period = _exact_period(request)
    if isinstance(period, HttpResponse):
        return period
    wait_share, problem = _wait_share(request)
    if problem:
        return _plain_400(problem)
    comparison = strategies.compare_strategies(period, wait_share=wait_share, top_users=None)
    return _csv_download(request, "strategies", period, _strategy_lines(comparison))


@staff_view
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    user = costs.get_user(user_id)
    if user is None:
        raise Http404("No such user")
    period, problem = _period(request)
    if user.pk != request.user.pk:
        audit.record(audit.AuditAction.COST_DRILL_DOWN, request, target=user,
                     detail={"from": str(period.start), "to": str(period.end)})
    rows = costs.user_conversations(period, user_id)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "admin/costs/user.html", _context(
        request, f"Costs of {user.get_username()}",
        subject=user, period=period, problem=problem, page=page,
        batch_jobs=list(costs.user_batch_jobs(period, user_id)[:PAGE_SIZE]),
        range_query=urlencode(period.as_query()),
    ))


@staff_view
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = costs.get_conversation(conversation_id)
    if conversation is None:
        raise Http404("No such conversation")
    if conversation.owner_id != request.user.pk:
        audit.record(audit.AuditAction.COST_DRILL_DOWN, request, target=conversation,
                     detail={"owner": conversation.owner.get_username()})
    page = Paginator(costs.conversation_messages(conversation_id), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "admin/costs/conversation.html", _context(
        request, f"Costs of “{conversation}”",
        conversation=conversation, page=page,
        other_calls=list(costs.conversation_other_calls(conversation_id)[:PAGE_SIZE]),
        range_query=urlencode({k: v for k, v in request.GET.items() if k in ("start", "end")}),
    ))


urlpatterns = [
    path("", review, name="cost-review"),
    path("export.csv", export_csv, name="cost-review-csv"),
    path("strategies.csv", export_strategies_csv, name="cost-review-strategies-csv"),
    path("projects.csv", export_projects_csv, name="cost-review-projects-csv"),
    path("users/<int:user_id>/", user_detail, name="cost-review-user"),
    path("conversations/<int:conversation_id>/", conversation_detail,
         name="cost-review-conversation"),
]
