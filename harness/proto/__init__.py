"""Protobuf types the harness speaks. Inference-module messages are generated from `src/` into `gen/`
(regenerate: `bash harness/proto/regenerate.sh`); cosmos types come from cosmpy's protos.

Type URLs and ABCI query paths are spelled here once.
"""

from __future__ import annotations

import cosmpy.protos  # noqa: F401  (puts cosmpy's `cosmos.*` modules on sys.path; must come first)
from cosmos.auth.v1beta1 import auth_pb2
from cosmos.auth.v1beta1 import query_pb2 as auth_query_pb2
from cosmos.base.query.v1beta1 import pagination_pb2
from cosmos.gov.v1 import gov_pb2
from cosmos.gov.v1 import query_pb2 as gov_query_pb2
from cosmos.gov.v1 import tx_pb2 as gov_tx_pb2
from cosmos.upgrade.v1beta1 import query_pb2 as upgrade_query_pb2
from cosmos.upgrade.v1beta1 import upgrade_pb2

from harness.proto.gen.inference.inference import partial_upgrade_pb2 as inference_pb2

PartialUpgrade = inference_pb2.PartialUpgrade
MLNodeVersion = inference_pb2.MLNodeVersion
MsgCreatePartialUpgrade = inference_pb2.MsgCreatePartialUpgrade
MsgCreatePartialUpgradeResponse = inference_pb2.MsgCreatePartialUpgradeResponse

TYPE_MSG_CREATE_PARTIAL_UPGRADE = "/inference.inference.MsgCreatePartialUpgrade"
TYPE_MSG_SUBMIT_PROPOSAL = "/cosmos.gov.v1.MsgSubmitProposal"
TYPE_MSG_DEPOSIT = "/cosmos.gov.v1.MsgDeposit"
TYPE_MSG_VOTE = "/cosmos.gov.v1.MsgVote"
TYPE_BASE_ACCOUNT = "/cosmos.auth.v1beta1.BaseAccount"
TYPE_MODULE_ACCOUNT = "/cosmos.auth.v1beta1.ModuleAccount"
TYPE_SECP256K1_PUBKEY = "/cosmos.crypto.secp256k1.PubKey"

Q_PARTIAL_UPGRADE_ALL = "/inference.inference.Query/PartialUpgradeAll"
Q_PARTIAL_UPGRADE = "/inference.inference.Query/PartialUpgrade"
Q_MLNODE_VERSION = "/inference.inference.Query/MLNodeVersion"
Q_INFERENCE_PARAMS = "/inference.inference.Query/Params"
Q_ACCOUNT = "/cosmos.auth.v1beta1.Query/Account"
Q_MODULE_ACCOUNT_BY_NAME = "/cosmos.auth.v1beta1.Query/ModuleAccountByName"
Q_GOV_PROPOSAL = "/cosmos.gov.v1.Query/Proposal"
Q_GOV_PARAMS = "/cosmos.gov.v1.Query/Params"
Q_UPGRADE_CURRENT_PLAN = "/cosmos.upgrade.v1beta1.Query/CurrentPlan"

# Request and response types per query path: (request class, response class).
QUERIES = {
    Q_PARTIAL_UPGRADE_ALL: (inference_pb2.QueryAllPartialUpgradeRequest, inference_pb2.QueryAllPartialUpgradeResponse),
    Q_PARTIAL_UPGRADE: (inference_pb2.QueryGetPartialUpgradeRequest, inference_pb2.QueryGetPartialUpgradeResponse),
    Q_MLNODE_VERSION: (inference_pb2.QueryGetMLNodeVersionRequest, inference_pb2.QueryGetMLNodeVersionResponse),
    Q_INFERENCE_PARAMS: (inference_pb2.QueryParamsRequest, inference_pb2.QueryParamsResponse),
    Q_ACCOUNT: (auth_query_pb2.QueryAccountRequest, auth_query_pb2.QueryAccountResponse),
    Q_MODULE_ACCOUNT_BY_NAME: (auth_query_pb2.QueryModuleAccountByNameRequest, auth_query_pb2.QueryModuleAccountByNameResponse),
    Q_GOV_PROPOSAL: (gov_query_pb2.QueryProposalRequest, gov_query_pb2.QueryProposalResponse),
    Q_GOV_PARAMS: (gov_query_pb2.QueryParamsRequest, gov_query_pb2.QueryParamsResponse),
    Q_UPGRADE_CURRENT_PLAN: (upgrade_query_pb2.QueryCurrentPlanRequest, upgrade_query_pb2.QueryCurrentPlanResponse),
}

__all__ = [
    "QUERIES",
    "MLNodeVersion",
    "MsgCreatePartialUpgrade",
    "MsgCreatePartialUpgradeResponse",
    "PartialUpgrade",
    "auth_pb2",
    "auth_query_pb2",
    "gov_pb2",
    "gov_query_pb2",
    "gov_tx_pb2",
    "inference_pb2",
    "pagination_pb2",
    "upgrade_pb2",
    "upgrade_query_pb2",
]
