"""`harness upgrade --to VERSION (--at HEIGHT | --in BLOCKS) --from KEY`: schedule a partial upgrade through governance.

Like `inferenced tx upgrade software-upgrade --from KEY`, the user never supplies the gov module address: the
MsgCreatePartialUpgrade's authority is looked up on chain (ModuleAccountByName "gov"). The proposal carries the
minimum deposit, every validator key the harness holds votes YES, and the command waits until it PASSED.

Refused before anything is signed (exit 2), each with the fix:
- a malformed version (expected vMAJOR.MINOR.PATCH), or the version the chain already runs;
- an unknown --from key name (lists the known names) or an unset env: variable;
- a height too close for the voting period (says the earliest allowed height);
- a height that already has a partial upgrade stored, or one proposed in a proposal still in its deposit or
  voting period (says what is pending).
With `--in BLOCKS`, a proposal the chain outran (a loaded machine: included too late, or its votes after the voting
period) is proposed again further out, by the hop's own rule (harness/chain/schedule.py); `--at HEIGHT` is proposed
once.

Imports inside functions are on purpose here: each `harness` command loads only its own module (harness/cli.py), so
a command pays at start-up only for what it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from harness.chain.keys import Key
from harness.chain.schedule import ATTEMPTS, propose_until_passed
from harness.errors import ConfigError
from harness.ops.context import OpsContext
from harness.ops.keyring import Keyring
from harness.ops.status import PENDING_STATUSES, pending_partial_upgrades, proposals
from harness.versions import check_version


@dataclass(frozen=True)
class UpgradeRequest:
    version: str
    at_height: int | None
    in_blocks: int | None
    proposer: Key
    voters: tuple[Key, ...]


@dataclass(frozen=True)
class UpgradeResult:
    version: str
    upgrade_height: int
    proposal_id: int
    submit_height: int
    passed_height: int
    authority: str
    proposer: str
    voters: tuple[str, ...]
    api_switch_height: int  # the block whose processing must switch the API node (its contract's offset)
    api_profile: str
    switched: bool | None = None  # with --wait: chain MLNodeVersion == version at upgrade_height (None: not tracked)
    chain_tracks_version: bool = True  # False: the chain has no MLNodeVersion (upstream main)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _keyring(args: Any) -> Keyring:
    """--keyring FILE; else the keyring the running testnet's state file names (a gonka testnet's own test keys);
    else the default keyring."""
    path = getattr(args, "keyring", None)
    if path is None:
        from harness.ops.context import state_path_of
        from harness.ops.state import read_state

        try:
            path = read_state(state_path_of(args)).get("keyring")
        except ConfigError:
            path = None
    return Keyring.load(path if isinstance(path, str) else None)


def check_args(args: Any) -> Key:
    """Checks that need no testnet at all: version form, height form, the proposer key. Returns the proposer."""
    check_version(args.to, field="--to")
    at, within = getattr(args, "at", None), getattr(args, "in_blocks", None)
    if (at is None) == (within is None):
        raise ConfigError("give exactly one of --at HEIGHT (absolute) or --in BLOCKS (from the current height)")
    if at is not None and at <= 0:
        raise ConfigError(f"--at: {at} is not a block height; expected an integer > 0")
    if within is not None and within <= 0:
        raise ConfigError(f"--in: {within} blocks; expected an integer > 0")
    return _keyring(args).key(args.from_key)


def build_request(args: Any, ctx: OpsContext) -> UpgradeRequest:
    """check_args, then the voters: every validator key the testnet records, plus --voter keys."""
    proposer = check_args(args)
    version = check_version(args.to, field="--to")
    at, within = getattr(args, "at", None), getattr(args, "in_blocks", None)
    ring = _keyring(args)
    voters: list[Key] = [p.validator for p in ctx.participants if p.validator is not None]  # a network: every validator
    voters += [Key.from_mnemonic(m, name=f"validator-{i}") for i, m in enumerate(ctx.validator_mnemonics)]
    for ref in getattr(args, "voter", None) or []:
        voters.append(ring.key(ref))
    if not voters:
        voters = [proposer]
    seen: dict[str, Key] = {}
    for v in voters:
        seen.setdefault(v.address, v)
    return UpgradeRequest(version, at, within, proposer, tuple(seen.values()))


def check_against_chain(req: UpgradeRequest, chain) -> tuple[int, dict[str, float]]:
    """Chain-side refusals; returns (upgrade height, the numbers behind the earliest height)."""
    earliest, why = chain.earliest_upgrade_height()
    height = req.at_height if req.at_height is not None else why["current_height"] + req.in_blocks
    if height < earliest:
        how = f"--at {req.at_height}" if req.at_height is not None else f"--in {req.in_blocks} (height {height})"
        raise ConfigError(
            f"{how} is too close: current height {why['current_height']}, voting period {why['voting_period_s']:.3f}s "
            f"(~{why['voting_blocks']} blocks at {why['block_time_s']:.3f}s/block) plus 3 blocks margin; "
            f"the earliest allowed height is {earliest} (use --at {earliest} or --in {earliest - why['current_height']})"
        )
    current = chain.mlnode_version() if chain.tracks_mlnode_version() else None  # upstream main keeps none
    stored = [u for u in pending_partial_upgrades(chain) if u["height"] == height]
    if stored:
        u = stored[0]
        raise ConfigError(
            f"height {height} already has a pending partial upgrade: {u['version']} ({u['name']!r}); choose another height"
        )
    for p in proposals(chain):
        if p["status"] not in PENDING_STATUSES:
            continue
        for u in p["partial_upgrades"]:
            if u["height"] == height:
                raise ConfigError(
                    f"height {height} is already proposed: gov proposal #{p['id']} "
                    f"({p['status'].removeprefix('PROPOSAL_STATUS_')}) schedules {u['version']} there; "
                    "wait for it or choose another height"
                )
    earlier = [u for u in pending_partial_upgrades(chain) if u["height"] < height]
    if not earlier and current is not None and current == req.version:
        raise ConfigError(f"--to {req.version}: the chain already runs MLNode version {current}; nothing to upgrade")
    return height, why


def _heights(req: UpgradeRequest, chain, first: int) -> Callable[[int], int]:
    """The height of each attempt: `first` (checked already), then for `--in N` the same lead from the height the
    chain has reached plus the extra blocks the retry rule adds, checked again (a height proposed meanwhile is
    refused as before)."""

    def pick(extra: int) -> int:
        if extra == 0 or req.in_blocks is None:
            return first
        return check_against_chain(replace(req, in_blocks=req.in_blocks + extra), chain)[0]

    return pick


def run_upgrade(req: UpgradeRequest, ctx: OpsContext, *, wait_switch: bool = False, progress=lambda _m: None) -> UpgradeResult:
    chain = ctx.chain()
    try:
        height, why = check_against_chain(req, chain)
        authority = chain.gov_authority()
        progress(
            f"proposing {req.version} at height {height} (authority {authority}, proposer {req.proposer.address}, "
            f"{len(req.voters)} voter(s))"
        )
        outcome, height = propose_until_passed(
            chain, req.version, _heights(req, chain, height), proposer=req.proposer, voters=req.voters,
            attempts=1 if req.at_height is not None else ATTEMPTS, progress=progress,
        )  # fmt: skip
        progress(f"proposal #{outcome.proposal_id} passed at height {outcome.passed_height}")
        contract = ctx.contract(why["block_time_s"])
        switched = None
        if wait_switch:
            chain.rpc.wait_for_height(height)  # bounded in blocks (the chain's measured interval)
            # a chain without MLNodeVersion (upstream main) says nothing about it: None; the API node's own switch is
            # what `harness audit --live` judges from the MLNode journals
            switched = chain.mlnode_version(height=height) == req.version if chain.tracks_mlnode_version() else None
        return UpgradeResult(
            version=req.version,
            upgrade_height=height,
            proposal_id=outcome.proposal_id,
            submit_height=outcome.submit_height,
            passed_height=outcome.passed_height,
            authority=authority,
            proposer=req.proposer.address,
            voters=tuple(v.address for v in req.voters),
            api_switch_height=contract.switch_block(height),
            api_profile=ctx.api_profile,
            switched=switched,
            chain_tracks_version=chain.tracks_mlnode_version(),
        )
    finally:
        chain.close()
