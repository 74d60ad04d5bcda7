"""`harness status`: what a running testnet is doing right now.

Chain: height, mean block time over the last blocks, MLNodeVersion, stored partial upgrades, gov proposals
(read by id 1, 2, ... until the chain says "not found"; at most MAX_PROPOSALS). API node: GET /v1/versions and
GET /admin/v1/nodes; for a network, of every participant's API node (`participants`, each with its power and
MLNodes). MLNode mocks: each WireMock journal's size and last request (method, path, version prefix).
Chaos proxy (when the testnet has one): its seed and every installed fault with its state (pending, active, ended),
target, window and how many times it applied.
A part that does not answer is reported with its error; only an unreachable chain fails the command (exit 3).

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

from typing import Any

from harness import proto
from harness.errors import HarnessError, QueryError
from harness.ops.context import OpsContext

MAX_PROPOSALS = 1000
KEY_NOT_FOUND = 38
PENDING_STATUSES = ("PROPOSAL_STATUS_DEPOSIT_PERIOD", "PROPOSAL_STATUS_VOTING_PERIOD")


def proposals(chain, *, limit: int = MAX_PROPOSALS) -> list[dict[str, Any]]:
    """Gov proposals 1..N as dicts (id, status, title, voting_end_ms, partial_upgrades [{height, version}])."""
    statuses = proto.gov_pb2.ProposalStatus
    out: list[dict[str, Any]] = []
    for pid in range(1, limit + 1):
        try:
            p = chain.proposal(pid)
        except QueryError as e:
            if e.code == KEY_NOT_FOUND or "not found" in e.log or "doesn't exist" in e.log:
                break
            raise
        ups = []
        for m in p.messages:
            if m.type_url == proto.TYPE_MSG_CREATE_PARTIAL_UPGRADE:
                msg = proto.MsgCreatePartialUpgrade.FromString(m.value)
                ups.append({"height": int(msg.height), "version": msg.nodeVersion})
        out.append(
            {
                "id": pid,
                "status": statuses.Name(p.status),
                "title": p.title,
                "voting_end_ms": p.voting_end_time.seconds * 1000 + p.voting_end_time.nanos // 1_000_000
                if p.HasField("voting_end_time")
                else None,
                "partial_upgrades": ups,
            }
        )
    return out


def pending_partial_upgrades(chain) -> list[dict[str, Any]]:
    return [{"height": int(u.height), "version": u.node_version, "name": u.name} for u in chain.partial_upgrades()]


def _safe(fn) -> tuple[Any, str | None]:
    try:
        return fn(), None
    except (HarnessError, OSError, ValueError) as e:
        return None, f"{type(e).__name__}: {e}"
    except Exception as e:  # requests' HTTPError/ConnectionError: report, do not fail the whole status
        return None, f"{type(e).__name__}: {e}"


def journal_summary(url: str) -> dict[str, Any]:
    from harness.mlnode.journal import Journal
    from harness.versions import version_in_path

    entries = Journal(url, timeout_s=5.0).requests()
    last = entries[-1]["request"] if entries else None
    out: dict[str, Any] = {"admin_url": url, "requests": len(entries), "last": None}
    if last is not None:
        path = str(last.get("url", "")).split("?", 1)[0]
        out["last"] = {
            "method": last.get("method"),
            "url": last.get("url"),
            "prefix": version_in_path(path),
            "logged_ms": int(last.get("loggedDate", 0)),
        }
    return out


def gather(ctx: OpsContext) -> dict[str, Any]:
    chain = ctx.chain()
    try:
        st = chain.rpc.status()
        height = int(st["sync_info"]["latest_block_height"])
        doc: dict[str, Any] = {"testnet": ctx.describe()}
        bt, bt_err = _safe(lambda: chain.rpc.block_time_s(window=20))
        all_props, prop_err = _safe(lambda: proposals(chain))
        ups, ups_err = _safe(lambda: pending_partial_upgrades(chain))
        tracked, ver_err = _safe(chain.tracks_mlnode_version)
        version = "not tracked by this chain (no MLNodeVersion query)" if tracked is False else None
        if tracked:
            version, ver_err = _safe(chain.mlnode_version)
        doc["chain"] = {
            "chain_id": st["node_info"]["network"],
            "height": height,
            "latest_block_time": st["sync_info"]["latest_block_time"],
            "block_time_s": round(bt, 4) if bt is not None else None,
            "mlnode_version": version,
            "partial_upgrades": ups,
            "proposals": all_props,
            "pending_proposals": [p for p in all_props or [] if p["status"] in PENDING_STATUSES],
            "errors": {
                k: v
                for k, v in (
                    ("block_time", bt_err),
                    ("proposals", prop_err),
                    ("partial_upgrades", ups_err),
                    ("mlnode_version", ver_err),
                )
                if v
            },
        }
    finally:
        chain.close()
    doc["api"] = _api_doc(ctx.endpoints.api_public, ctx.endpoints.api_admin)
    if ctx.participants:  # a network: every participant's API node, not only the first one's
        doc["participants"] = [
            {"id": p.id, "power": p.power, "api": _api_doc(p.api_public, p.api_admin), "mlnodes": [n.id for n in p.mlnodes]}
            for p in ctx.participants
        ]
    doc["chaos"] = chaos_doc(ctx.endpoints.chaos_control)
    owner = {n.id: p.id for p in ctx.participants for n in p.mlnodes}
    doc["mlnodes"] = []
    for node in ctx.all_mlnodes():
        for key, url in node.journals.items():
            summary, err = _safe(lambda url=url: journal_summary(url))
            row = {"node": node.id, "journal": key, **(summary or {"admin_url": url}), "error": err}
            if node.id in owner:
                row["participant"] = owner[node.id]
            doc["mlnodes"].append(row)
    return doc


def chaos_doc(control_url: str | None) -> dict[str, Any] | None:
    """The chaos proxy's faults: in force (pending or active) and ended, each with its applied count; None: no proxy."""
    if not control_url:
        return None
    from harness.chaos.control import ChaosControl

    c = ChaosControl(control_url, timeout_s=5.0)
    status, err = _safe(c.status)
    faults, faults_err = _safe(c.faults) if err is None else (None, err)
    rows = [
        {
            "id": f.get("id"),
            "fault": f.get("fault"),
            "state": f.get("state"),
            "applied": f.get("applied", 0),
            "target": f.get("target") or {},
            "window": f.get("window") or {},
            "params": f.get("params") or {},
        }
        for f in faults or []
    ]
    return {
        "control": control_url,
        "seed": (status or {}).get("seed"),
        "faults": rows,
        "in_force": sum(1 for f in rows if f["state"] in ("pending", "active")),
        "applied_total": sum(int(f["applied"] or 0) for f in rows),
        "error": faults_err,
    }


def _api_doc(public: str | None, admin: str | None) -> dict[str, Any]:
    """One API node's versions and nodes (admin), each with the error that kept it from answering."""
    from harness.clients.api import ApiClient

    doc: dict[str, Any] = {"public": public, "admin": admin, "versions": None, "nodes": None}
    if not public:
        return doc
    api = ApiClient(public, admin or "", timeout_s=5.0)
    try:
        doc["versions"], doc["versions_error"] = _safe(api.versions)
        nodes, doc["nodes_error"] = _safe(api.nodes) if admin else (None, "no admin URL")
    finally:
        api.http.close()
    doc["nodes"] = (
        [
            {
                "id": n["node"]["id"],
                "status": n["state"].get("current_status"),
                "intended": n["state"].get("intended_status"),
                "host": n["node"].get("host"),
                "poc_port": n["node"].get("poc_port"),
                "inference_port": n["node"].get("inference_port"),
            }
            for n in nodes
        ]
        if nodes is not None
        else None
    )
    return doc


def _api_version(api: dict[str, Any]) -> str:
    v = api.get("versions")
    if v is None:
        return f"[red]{api.get('versions_error') or 'no public URL'}[/red]"
    nv = v.get("node_version") if isinstance(v, dict) else None
    if isinstance(nv, dict) and "current" in nv:
        extra = ", ".join(f"{k.replace('_', ' ')} {nv[k]}" for k in ("last_used", "profile") if nv.get(k))
        return f"{nv['current']}" + (f" ({extra})" if extra else "")
    return str(v)


def render(doc: dict[str, Any]):
    """Rich renderables for people."""
    from rich.table import Table

    c = doc["chain"]
    head = Table(title=f"testnet ({doc['testnet']['source']})", show_header=False)
    head.add_column("what")
    head.add_column("value")
    head.add_row("chain", f"{c['chain_id']}  height {c['height']}  block time {c['block_time_s']}s")
    head.add_row("MLNode version on chain", str(c["mlnode_version"]))
    ups = c["partial_upgrades"] or []
    head.add_row("partial upgrades stored", ", ".join(f"{u['version']}@{u['height']}" for u in ups) or "none")
    pend = c["pending_proposals"]
    head.add_row(
        "gov proposals pending", ", ".join(f"#{p['id']} {p['status'].removeprefix('PROPOSAL_STATUS_')}" for p in pend) or "none"
    )
    head.add_row("gov proposals total", str(len(c["proposals"] or [])))
    api = doc["api"]
    head.add_row("API node version", _api_version(api))
    for k, v in c["errors"].items():
        head.add_row(f"[red]{k} error[/red]", v)
    out = [head]
    if api.get("nodes") is not None or api.get("nodes_error"):
        t = Table(title="API node: /admin/v1/nodes")
        for col in ("id", "status", "intended", "host", "poc", "inference"):
            t.add_column(col)
        for n in api.get("nodes") or []:
            t.add_row(n["id"], str(n["status"]), str(n["intended"]), str(n["host"]), str(n["poc_port"]), str(n["inference_port"]))
        if api.get("nodes_error"):
            t.add_row("[red]error[/red]", api["nodes_error"], "", "", "", "")
        out.append(t)
    if doc.get("participants"):
        t = Table(title="participants")
        for col in ("participant", "power", "API node version", "MLNodes (status)"):
            t.add_column(col)
        for p in doc["participants"]:
            pa = p["api"]
            states = ", ".join(f"{n['id']} {n['status']}" for n in pa.get("nodes") or []) or pa.get("nodes_error") or "-"
            t.add_row(p["id"], str(p["power"]), _api_version(pa), states)
        out.append(t)
    if doc.get("chaos") is not None:
        out.append(_chaos_table(doc["chaos"]))
    m = Table(title="MLNode mocks: last request")
    for col in ("node", "journal", "requests", "last request", "prefix"):
        m.add_column(col)
    for j in doc["mlnodes"]:
        last = j.get("last")
        m.add_row(
            j["node"],
            j["journal"],
            str(j.get("requests", "-")),
            f"{last['method']} {last['url']}" if last else (j.get("error") or "-"),
            str(last["prefix"]) if last else "-",
        )
    out.append(m)
    return out


def _chaos_table(chaos: dict[str, Any]):
    import json

    from rich.table import Table

    applied, seed = chaos["applied_total"], chaos["seed"]
    t = Table(title=f"chaos faults in force: {chaos['in_force']} (applied {applied} times in all; seed {seed})")
    for col in ("id", "fault", "state", "applied", "target", "window"):
        t.add_column(col)
    for f in chaos["faults"]:
        target, window = json.dumps(f["target"]), json.dumps(f["window"])
        t.add_row(str(f["id"]), str(f["fault"]), str(f["state"]), str(f["applied"]), target, window)
    if chaos.get("error"):
        t.add_row("[red]error[/red]", chaos["error"], "", "", "", "")
    elif not chaos["faults"]:
        t.add_row("-", "none installed", "", "", "", "")
    return t
