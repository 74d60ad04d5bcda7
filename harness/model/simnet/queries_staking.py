"""Staking queries on simnet, read-only: the genesis validators as bonded validators (operator `gonkavaloper...` of
the validator's account key, tokens = power x 10^6, all self-delegated), the bonded pool and the params. These are
the numbers gov tallies over; simnet has no staking transactions. LegacyDec fields of these messages are gogoproto
custom types: on the wire they are the 18-decimal integer (1.5 -> "1500000000000000000"), as the SDK writes them.
"""

from __future__ import annotations

import bech32
import cosmpy.protos  # noqa: F401  (cosmos.* on sys.path)
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.staking.v1beta1 import query_pb2 as q
from cosmos.staking.v1beta1 import staking_pb2 as s
from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message

from harness.chain.keys import BECH32_PREFIX, validate_address
from harness.errors import ConfigError
from harness.model.simnet.errors import invalid_argument, not_found
from harness.model.simnet.genesis import BOND_DENOM, Validator
from harness.model.simnet.numbers import DEC_ONE
from harness.model.simnet.routes import Routes, paginate
from harness.model.simnet.state import ChainState
from harness.model.simnet.store import Store

Q = "/cosmos.staking.v1beta1.Query/{}"
GO_ZERO_TIME_S = -62135596800  # 0001-01-01T00:00:00Z


def valoper(v: Validator) -> str:
    raw = validate_address(v.address)
    return bech32.bech32_encode(BECH32_PREFIX + "valoper", bech32.convertbits(raw, 8, 5))


def _validator_proto(v: Validator) -> s.Validator:
    pub = Any(type_url="/cosmos.crypto.secp256k1.PubKey", value=keys_pb2.PubKey(key=v.pub_key).SerializeToString())
    out = s.Validator(
        operator_address=valoper(v),
        consensus_pubkey=pub,
        status=s.BOND_STATUS_BONDED,
        tokens=str(v.tokens),
        delegator_shares=str(v.tokens * DEC_ONE),
        min_self_delegation="1",
    )
    out.description.moniker = v.name
    out.unbonding_time.FromSeconds(GO_ZERO_TIME_S)  # non-nullable times: Go's zero time, as genesis validators have
    out.commission.update_time.FromSeconds(GO_ZERO_TIME_S)
    rates = out.commission.commission_rates
    rates.rate, rates.max_rate, rates.max_change_rate = "0", str(DEC_ONE), str(DEC_ONE // 100)
    return out


class StakingQueries:
    def __init__(self, state: ChainState) -> None:
        self.validators = sorted(state.genesis.validators, key=lambda v: -v.tokens)

    def all_validators(self, req: Message, store: Store) -> Message:
        status = req.status  # type: ignore[attr-defined]
        if status and status not in s.BondStatus.keys():
            raise invalid_argument(f"invalid validator status {status[:40]}")
        chosen = self.validators if status in ("", "BOND_STATUS_BONDED") else []
        chunk, page = paginate(chosen, req.pagination)  # type: ignore[attr-defined]
        return q.QueryValidatorsResponse(validators=[_validator_proto(v) for v in chunk], pagination=page)

    def validator(self, req: Message, store: Store) -> Message:
        addr = req.validator_addr  # type: ignore[attr-defined]
        if not addr:
            raise invalid_argument("validator address cannot be empty")
        try:
            validate_address(addr, BECH32_PREFIX + "valoper")
        except ConfigError as e:
            raise invalid_argument(str(e)) from None
        for v in self.validators:
            if valoper(v) == addr:
                return q.QueryValidatorResponse(validator=_validator_proto(v))
        raise not_found(f"validator {addr} not found")

    def pool(self, req: Message, store: Store) -> Message:
        bonded = store.balances.get(store.module_address("bonded_tokens_pool") or "", {}).get(BOND_DENOM, 0)
        return q.QueryPoolResponse(pool=s.Pool(bonded_tokens=str(bonded), not_bonded_tokens="0"))

    def params(self, req: Message, store: Store) -> Message:
        p = s.Params(max_validators=100, max_entries=7, historical_entries=10_000, bond_denom=BOND_DENOM, min_commission_rate="0")
        p.unbonding_time.FromSeconds(21 * 86400)
        return q.QueryParamsResponse(params=p)

    def table(self) -> Routes:
        return {
            Q.format("Validators"): (q.QueryValidatorsRequest, self.all_validators),
            Q.format("Validator"): (q.QueryValidatorRequest, self.validator),
            Q.format("Pool"): (q.QueryPoolRequest, self.pool),
            Q.format("Params"): (q.QueryParamsRequest, self.params),
        }


def routes(state: ChainState) -> Routes:
    return StakingQueries(state).table()
