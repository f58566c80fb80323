"""The `liftos` command: run a local cluster, inspect it, scaffold modules, run eval suites."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cluster import local
from cluster.eval_cli import eval_app
from cluster.settings import Settings

# A client must speak the head's auth mode, and Ray reads it once, at import: `liftos up`
# starts heads with token auth (the token lives in ~/.ray/auth_token).
os.environ.setdefault("RAY_AUTH_MODE", "token")

app = typer.Typer(help="LiftOS: causal marketing intelligence on Ray.", no_args_is_help=True)
module_app = typer.Typer(help="Write and manage LiftOS modules.", no_args_is_help=True)
app.add_typer(module_app, name="module")
app.add_typer(eval_app, name="eval")
console = Console()


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _prepare_state(settings: Settings) -> local.StateUrls:
    from cluster.embedded import EmbeddedServerError

    try:
        with console.status("preparing PostgreSQL and Redis"):
            return local.prepare_state(settings)
    except (EmbeddedServerError, RuntimeError, OSError) as exc:
        console.print(f"[red]cannot prepare the state servers:[/red] {exc}")
        raise typer.Exit(1) from exc


def _connect_ray(settings: Settings) -> bool:
    """Connect this process to the configured cluster, or to the local head if it runs."""
    import ray

    address = settings.ray_address or local.head_address(settings)
    # ray.init retries an absent GCS for minutes; a closed port is a quick, certain "no".
    if not local.reachable(address):
        return False
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError):
        return False
    return True


@app.command()
def up(
    timeout: Annotated[float, typer.Option(help="seconds to wait for the applications")] = 300,
) -> None:
    """Start PostgreSQL, Redis and Ray (embedded unless configured) and deploy every app."""
    import ray

    from cluster import serving

    settings = _settings()
    urls = _prepare_state(settings)
    env = local.service_env(settings, urls)
    config = serving.load_serve_config(http_port=settings.http_port)
    if settings.ray_address:
        if not _connect_ray(settings):
            console.print(f"[red]cannot reach the Ray cluster at {settings.ray_address}[/red]")
            raise typer.Exit(1)
        console.print(f"connected to Ray at {settings.ray_address}")
    elif _connect_ray(settings):
        console.print("the local Ray head is already running; redeploying onto it")
    else:
        cpus = local.head_cpus(settings, serving.standing_cpus(config, settings))
        with console.status(f"starting the local Ray head ({cpus} logical CPUs)"):
            local.start_ray_head(settings, env, num_cpus=cpus)
        ray.init(address=local.head_address(settings), log_to_driver=False)
        local.remember_ray_session(settings, ray.get_runtime_context().get_session_name())
    names = [a["name"] for a in config["applications"]]
    with console.status(f"deploying {', '.join(names)}"):
        serving.deploy(config)
        serving.wait_until_running(names, timeout_s=timeout)
    base = f"http://127.0.0.1:{settings.http_port}"
    table = Table(title="LiftOS is up", show_header=False)
    table.add_row("API", base)
    table.add_row("OpenAPI docs", f"{base}/docs")
    table.add_row("Ray dashboard", f"http://127.0.0.1:{settings.dashboard_port}")
    table.add_row("PostgreSQL", "embedded" if urls.embedded_postgres else "external (DATABASE_URL)")
    table.add_row("Redis", urls.redis_url if urls.embedded_redis else "external (REDIS_URL)")
    console.print(table)
    console.print(
        "Create the first organisation:\n"
        f"  curl -X POST {base}/auth/signup -H 'content-type: application/json' \\\n"
        '    -d \'{"org_name": "Acme", "email": "you@example.com", '
        '"password": "a long passphrase"}\'\n'
        "Stop everything with `liftos down`."
    )


@app.command()
def down() -> None:
    """Stop the Serve applications, the local Ray cluster and the embedded servers."""

    settings = _settings()
    if settings.ray_address:
        console.print(f"leaving the Ray cluster at {settings.ray_address} running")
    else:
        count = local.stop_ray_head(settings)
        console.print(f"stopped the local Ray head ({count} processes)" if count else "Ray: idle")
    stopped = local.stop_embedded(settings)
    console.print(f"stopped embedded {', '.join(stopped)}" if stopped else "no embedded servers")


@app.command()
def status() -> None:
    """Show the Ray cluster, the Serve applications with their replicas, and the servers."""
    import ray

    from cluster import serving
    from cluster.embedded import EmbeddedPostgres, EmbeddedRedis

    settings = _settings()
    state_dir = settings.state_dir.expanduser().resolve()
    servers = Table(title="State")
    servers.add_column("server")
    servers.add_column("running")
    servers.add_column("where")
    for server in (EmbeddedPostgres(state_dir), EmbeddedRedis(state_dir, port=settings.redis_port)):
        st = server.status()
        servers.add_row(st.name, "yes" if st.running else "no", st.url or str(st.data_dir))
    console.print(servers)
    if not _connect_ray(settings):
        console.print("Ray: not running (start it with `liftos up`)")
        raise typer.Exit(1)
    resources = ray.cluster_resources()
    console.print(
        f"Ray: {len(ray.nodes())} node(s), {resources.get('CPU', 0):g} CPUs, "
        f"dashboard http://127.0.0.1:{settings.dashboard_port}"
    )
    routes = {a["name"]: a.get("route_prefix") for a in serving.load_serve_config()["applications"]}
    apps = Table(title="Serve applications")
    for column in ("application", "route", "status", "deployment", "replicas"):
        apps.add_column(column)
    for state in serving.application_states():
        for deployment, (dstatus, replicas) in state.deployments.items():
            apps.add_row(
                state.name,
                # Applications not in the file are registered modules, reached via the gateway.
                routes.get(state.name) or "via gateway",
                state.status,
                f"{deployment} ({dstatus})",
                str(replicas),
            )
    console.print(apps)
    _print_figures(ray.nodes())


def _print_figures(nodes: list[dict[str, object]]) -> None:
    """Key figures since the cluster started, from every live node's Prometheus endpoint."""
    import httpx

    from cluster import metrics_report

    texts = []
    for node in nodes:
        if node.get("Alive") and node.get("MetricsExportPort"):
            url = f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics"
            try:
                texts.append(httpx.get(url, timeout=5).text)
            except httpx.HTTPError as exc:
                console.print(f"metrics: {url} unreachable ({exc})")
    got = metrics_report.figures(metrics_report.parse(texts))
    if not got.services and not got.jobs_finished and not got.jobs_in_flight:
        console.print("metrics: nothing recorded yet (Ray exports them every few seconds)")
        return
    table = Table(title="Requests since start")
    for column in ("service", "requests", "4xx", "5xx", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "service" else "right")
    for name, svc in sorted(got.services.items()):
        table.add_row(
            name,
            f"{svc.requests:,.0f}",
            f"{svc.client_errors:,.0f}",
            f"{svc.server_errors:,.0f}",
            f"{svc.quantile(0.5) * 1000:.1f}",
            f"{svc.quantile(0.99) * 1000:.1f}",
        )
    console.print(table)
    jobs = Table(title="Jobs")
    for column in ("kind", "in flight", "finished", "mean s"):
        jobs.add_column(column, justify="left" if column == "kind" else "right")
    for kind in sorted({*got.jobs_in_flight, *got.jobs_finished}):
        done = got.jobs_finished.get(kind, 0.0)
        mean = got.job_seconds.get(kind, 0.0) / done if done else float("nan")
        jobs.add_row(kind, f"{got.jobs_in_flight.get(kind, 0):.0f}", f"{done:.0f}", f"{mean:.1f}")
    console.print(jobs)
    console.print(
        f"memory shards: {got.shard_memories:,.0f} memories loaded, "
        f"{got.shard_index_bytes / 2**20:,.1f} MiB of indexes; "
        f"LLM: {got.llm_tokens:,.0f} tokens, ${got.llm_cost_usd:,.4f}"
    )


@app.command()
def migrate() -> None:
    """Apply pending database migrations (what `liftos up` does first)."""
    urls = _prepare_state(_settings())
    console.print(f"migrations applied ({'embedded' if urls.embedded_postgres else 'external'})")


@module_app.command("new")
def module_new(
    name: Annotated[str, typer.Argument(help="module name, e.g. churn-score")],
    directory: Annotated[Path, typer.Option(help="where to create it")] = Path("."),
) -> None:
    """Scaffold a module (module.json, FastAPI app, tests, README) from the template."""
    from cluster.scaffold import scaffold_module

    try:
        created = scaffold_module(name, directory)
    except (ValueError, FileExistsError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"created {created}; see {created / 'README.md'} to test and register it")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
