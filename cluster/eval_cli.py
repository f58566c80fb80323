"""`liftos eval run suite.yaml`: a suite file checked here, stored and benchmarked through a
running LiftOS API, its progress shown, and its leaderboards printed when it finishes."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

eval_app = typer.Typer(help="Run eval suites on a running LiftOS API.", no_args_is_help=True)
console = Console()
# Progress goes to stderr, so `--json` leaves stdout to the run's JSON alone.
err_console = Console(stderr=True)

# --- eval -------------------------------------------------------------------------------------

EVAL_API = "/api/v1/eval"
DEFAULT_API_URL = "http://127.0.0.1:8000"
POLL_INTERVAL_S = 1.0
HTTP_TIMEOUT_S = 30.0
# Consecutive transport failures (not error answers) a long poll rides out before giving up.
POLL_TRANSPORT_RETRIES = 3
EXIT_TIMEOUT = 3


def _http_client(base_url: str, headers: Mapping[str, str]) -> httpx.Client:
    """The client every eval command talks to the API with (tests swap in a mock transport)."""
    return httpx.Client(base_url=base_url, headers=dict(headers), timeout=HTTP_TIMEOUT_S)


def _auth_headers(api_key: str | None, token: str | None) -> dict[str, str]:
    if api_key and token:
        err_console.print(
            "[red]give one of --api-key (LIFTOS_API_KEY) or --token (LIFTOS_TOKEN)[/red]"
        )
        raise typer.Exit(2)
    if api_key:
        return {"X-API-Key": api_key}
    if token:
        return {"Authorization": f"Bearer {token}"}
    err_console.print(
        "[red]no credentials:[/red] pass --api-key (or set LIFTOS_API_KEY) with an API key, "
        "or --token (or set LIFTOS_TOKEN) with an access token from /auth/login"
    )
    raise typer.Exit(2)


def _error_text(response: httpx.Response) -> str:
    """An error answer as one or more lines: LiftOS's ``{"error": {code, message, field?,
    errors?, request_id}}``, else whatever the server (or a proxy in front of it) sent."""
    head = f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        detail = body.get("detail") if isinstance(body, dict) else None
        text = str(detail) if detail is not None else response.text.strip()[:500]
        return f"{head}: {text or response.reason_phrase}"
    message = str(error.get("message") or "")
    field = error.get("field")
    lines = [f"{head} {error.get('code', 'error')}: {message}"]
    if field and not message.startswith(f"{field}:"):
        lines[0] += f" (field: {field})"
    problems = error.get("errors")
    if isinstance(problems, list) and len(problems) > 1:
        for problem in problems:
            if isinstance(problem, dict):
                lines.append(f"  {problem.get('field') or 'request'}: {problem.get('message')}")
    if error.get("request_id"):
        lines.append(f"request id: {error['request_id']}")
    return "\n".join(lines)


def _call(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    body: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One API call's JSON; an error answer is printed and exits 1."""
    response = client.request(method, path, json=body, params=params)
    if response.status_code >= 400:
        err_console.print(f"[red]{escape(method)} {escape(path)} failed:[/red]")
        err_console.print(escape(_error_text(response)), highlight=False)
        raise typer.Exit(1)
    try:
        data = response.json()
    except ValueError as exc:
        err_console.print(
            f"[red]{method} {path}: the answer is not JSON[/red] (HTTP {response.status_code})"
        )
        raise typer.Exit(1) from exc
    if not isinstance(data, dict):
        err_console.print(f"[red]{method} {path}: expected a JSON object[/red]")
        raise typer.Exit(1)
    return data


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    number = float(value)
    return f"{number:,.1f}" if abs(number) >= 1000 else f"{number:.4g}"


def _leaderboards(run: Mapping[str, Any]) -> None:
    summary = run.get("summary") or {}
    title = f"suite {run.get('suite_name')}"
    if run.get("suite_version") is not None:
        title += f" v{run['suite_version']}"
    done, total = run.get("cases_done"), run.get("cases_total")
    line = f"[green]succeeded[/green]: {escape(title)}, {done}/{total} cases"
    if summary.get("seconds") is not None:
        line += f" in {float(summary['seconds']):.1f} s"
    if summary.get("cases_per_second") is not None:
        line += f" ({float(summary['cases_per_second']):.2f} cases/s)"
    console.print(line)
    boards = summary.get("leaderboards") or []
    if not boards:
        console.print("no leaderboards in the run's summary")
    level_default = summary.get("level")
    for board in boards:
        ranking = board.get("ranking") or []
        level = next((r["interval"]["level"] for r in ranking if r.get("interval")), level_default)
        better = "lower" if board.get("lower_is_better") else "higher"
        table = Table(title=f"{escape(str(board.get('metric')))} ({better} is better)")
        table.add_column("#", justify="right")
        table.add_column("model")
        table.add_column("value", justify="right")
        table.add_column(f"{float(level):.0%} interval" if level else "interval", justify="right")
        table.add_column("tied with best")
        for rank, entry in enumerate(ranking, start=1):
            interval = entry.get("interval")
            table.add_row(
                str(rank),
                escape(str(entry.get("model"))),
                _number(entry.get("value")),
                f"[{_number(interval['low'])}, {_number(interval['high'])}]" if interval else "-",
                "yes" if entry.get("tied_with_best") else "",
            )
        console.print(table, highlight=False)
    models = summary.get("models") or []
    if models:
        table = Table(title="cases per model")
        table.add_column("model")
        table.add_column("cases", justify="right")
        table.add_column("errors", justify="right")
        for model in models:
            errors = int(model.get("errors") or 0)
            table.add_row(
                escape(str(model.get("model"))),
                str(model.get("cases", "")),
                f"[red]{errors}[/red]" if errors else "0",
            )
        console.print(table, highlight=False)


def _poll(client: httpx.Client, run_id: str, *, timeout: float) -> tuple[dict[str, Any], bool]:
    """The run once it finished (``(run, True)``), or as last seen at the deadline."""
    path = f"{EVAL_API}/runs/{run_id}"
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    failures = 0
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        console=err_console,
    )
    task: TaskID | None = None
    with progress:
        while True:
            try:
                run = _call(client, "GET", path, params={"limit": 0})
                failures = 0
            except httpx.TransportError as exc:
                failures += 1
                if failures > POLL_TRANSPORT_RETRIES:
                    raise
                err_console.print(f"[yellow]polling failed ({escape(str(exc))}); retrying[/yellow]")
            if run:
                description = escape(f"run {run_id[:8]} {run.get('status')}")
                done = int(run.get("cases_done") or 0)
                total = int(run.get("cases_total") or 0) or None
                stage = escape(str(run.get("stage") or ""))
                if task is None:
                    task = progress.add_task(description, total=total, completed=done, stage=stage)
                else:
                    progress.update(
                        task, description=description, total=total, completed=done, stage=stage
                    )
                if run.get("status") in ("succeeded", "failed"):
                    return run, True
            if time.monotonic() >= deadline:
                return run, False
            time.sleep(POLL_INTERVAL_S)


@eval_app.command("run")
def eval_run(
    suite_file: Annotated[
        Path,
        typer.Argument(help="the suite, YAML or JSON", exists=True, dir_okay=False, readable=True),
    ],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="a configured model to run (repeat); default: the suite's"
        ),
    ] = None,
    api_url: Annotated[
        str, typer.Option(envvar="LIFTOS_API_URL", help="the LiftOS API")
    ] = DEFAULT_API_URL,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="LIFTOS_API_KEY", help="an API key (sent as X-API-Key)", show_default=False
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="LIFTOS_TOKEN",
            help="an access token (sent as a Bearer token)",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the run", min=0)] = 1800,
    as_json: Annotated[bool, typer.Option("--json", help="print the final run as JSON")] = False,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="print the run id and exit")] = False,
) -> None:
    """Store a suite (a new version if its name exists), benchmark it, wait for the run and
    print a leaderboard per metric.

    Exit status: 0 the run succeeded; 1 it failed, or the API refused a request;
    2 a bad suite file or missing credentials; 3 --timeout passed first (the run goes on).
    """
    from engine.eval import suites

    text = suite_file.read_text(encoding="utf-8")
    try:
        spec = suites.load_suite(text)
    except suites.SuiteError as exc:
        err_console.print(
            f"[red]{escape(str(suite_file))}: {escape(str(exc))}[/red]", highlight=False
        )
        raise typer.Exit(2) from exc
    problem = None
    if spec.kind != "prompts":
        problem = "kind: a budget-agent suite runs in the sandbox (POST /api/v1/eval/sandbox/runs)"
    elif spec.name in suites.BUILTIN:
        problem = f"name: '{spec.name}' is a built-in suite; store yours under another name"
    if problem:
        err_console.print(
            f"[red]{escape(str(suite_file))}: {escape(problem)}[/red]", highlight=False
        )
        raise typer.Exit(2)
    headers = _auth_headers(api_key, token)
    try:
        with _http_client(api_url, headers) as client:
            stored = _call(client, "POST", f"{EVAL_API}/suites", body={"source": text})
            name, version = stored["name"], stored["version"]
            err_console.print(
                f"stored suite [bold]{escape(str(name))}[/bold] version {version} "
                f"({stored.get('cases', '?')} cases per model)"
            )
            request: dict[str, Any] = {"evaluation_suite": name, "suite_version": version}
            if model:
                request["models"] = list(model)
            accepted = _call(client, "POST", f"{EVAL_API}/benchmark", body=request)
            run_id = str(accepted["run_id"])
            err_console.print(escape(f"run {run_id}: {accepted.get('message', 'queued')}"))
            if no_wait:
                # The id alone on stdout, for scripts: RUN=$(liftos eval run suite.yaml --no-wait)
                typer.echo(json.dumps(accepted, indent=2) if as_json else run_id)
                err_console.print(
                    escape(f"status: GET {api_url.rstrip('/')}{accepted.get('status_url')}")
                )
                return
            run, finished = _poll(client, run_id, timeout=timeout)
    except httpx.HTTPError as exc:
        err_console.print(
            f"[red]cannot talk to the LiftOS API at {escape(api_url)}:[/red] {escape(str(exc))}"
        )
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(run, indent=2))
    if not finished:
        err_console.print(
            f"[yellow]timed out after {timeout:g} s[/yellow]; run {run_id} is still "
            f"{run.get('status', 'queued')} ({run.get('cases_done', 0)}/"
            f"{run.get('cases_total', '?')} cases): GET {EVAL_API}/runs/{run_id}",
            highlight=False,
        )
        raise typer.Exit(EXIT_TIMEOUT)
    if run.get("status") != "succeeded":
        error = str(run.get("error") or "no error recorded")
        err_console.print(
            f"[red]run {run_id} failed:[/red] {escape(error)}",
            highlight=False,
        )
        raise typer.Exit(1)
    if not as_json:
        _leaderboards(run)
