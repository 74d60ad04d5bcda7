from cosmos.base.query.v1beta1 import pagination_pb2 as _pagination_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PartialUpgrade(_message.Message):
    __slots__ = ("height", "node_version", "api_binaries_json", "name")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    NODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_BINARIES_JSON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    height: int
    node_version: str
    api_binaries_json: str
    name: str
    def __init__(self, height: _Optional[int] = ..., node_version: _Optional[str] = ..., api_binaries_json: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class MLNodeVersion(_message.Message):
    __slots__ = ("current_version",)
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    current_version: str
    def __init__(self, current_version: _Optional[str] = ...) -> None: ...

class MsgCreatePartialUpgrade(_message.Message):
    __slots__ = ("authority", "height", "nodeVersion", "apiBinariesJson")
    AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    NODEVERSION_FIELD_NUMBER: _ClassVar[int]
    APIBINARIESJSON_FIELD_NUMBER: _ClassVar[int]
    authority: str
    height: int
    nodeVersion: str
    apiBinariesJson: str
    def __init__(self, authority: _Optional[str] = ..., height: _Optional[int] = ..., nodeVersion: _Optional[str] = ..., apiBinariesJson: _Optional[str] = ...) -> None: ...

class MsgCreatePartialUpgradeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class QueryGetPartialUpgradeRequest(_message.Message):
    __slots__ = ("height",)
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    height: int
    def __init__(self, height: _Optional[int] = ...) -> None: ...

class QueryGetPartialUpgradeResponse(_message.Message):
    __slots__ = ("partialUpgrade",)
    PARTIALUPGRADE_FIELD_NUMBER: _ClassVar[int]
    partialUpgrade: PartialUpgrade
    def __init__(self, partialUpgrade: _Optional[_Union[PartialUpgrade, _Mapping]] = ...) -> None: ...

class QueryAllPartialUpgradeRequest(_message.Message):
    __slots__ = ("pagination",)
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    pagination: _pagination_pb2.PageRequest
    def __init__(self, pagination: _Optional[_Union[_pagination_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class QueryAllPartialUpgradeResponse(_message.Message):
    __slots__ = ("partialUpgrade", "pagination")
    PARTIALUPGRADE_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    partialUpgrade: _containers.RepeatedCompositeFieldContainer[PartialUpgrade]
    pagination: _pagination_pb2.PageResponse
    def __init__(self, partialUpgrade: _Optional[_Iterable[_Union[PartialUpgrade, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class QueryGetMLNodeVersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class QueryGetMLNodeVersionResponse(_message.Message):
    __slots__ = ("mlnode_version",)
    MLNODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    mlnode_version: MLNodeVersion
    def __init__(self, mlnode_version: _Optional[_Union[MLNodeVersion, _Mapping]] = ...) -> None: ...

class Params(_message.Message):
    __slots__ = ("epoch_params",)
    EPOCH_PARAMS_FIELD_NUMBER: _ClassVar[int]
    epoch_params: EpochParams
    def __init__(self, epoch_params: _Optional[_Union[EpochParams, _Mapping]] = ...) -> None: ...

class EpochParams(_message.Message):
    __slots__ = ("epoch_length", "epoch_multiplier", "epoch_shift", "default_unit_of_compute_price", "poc_stage_duration", "poc_exchange_duration", "poc_validation_delay", "poc_validation_duration", "set_new_validators_delay")
    EPOCH_LENGTH_FIELD_NUMBER: _ClassVar[int]
    EPOCH_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    EPOCH_SHIFT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_UNIT_OF_COMPUTE_PRICE_FIELD_NUMBER: _ClassVar[int]
    POC_STAGE_DURATION_FIELD_NUMBER: _ClassVar[int]
    POC_EXCHANGE_DURATION_FIELD_NUMBER: _ClassVar[int]
    POC_VALIDATION_DELAY_FIELD_NUMBER: _ClassVar[int]
    POC_VALIDATION_DURATION_FIELD_NUMBER: _ClassVar[int]
    SET_NEW_VALIDATORS_DELAY_FIELD_NUMBER: _ClassVar[int]
    epoch_length: int
    epoch_multiplier: int
    epoch_shift: int
    default_unit_of_compute_price: int
    poc_stage_duration: int
    poc_exchange_duration: int
    poc_validation_delay: int
    poc_validation_duration: int
    set_new_validators_delay: int
    def __init__(self, epoch_length: _Optional[int] = ..., epoch_multiplier: _Optional[int] = ..., epoch_shift: _Optional[int] = ..., default_unit_of_compute_price: _Optional[int] = ..., poc_stage_duration: _Optional[int] = ..., poc_exchange_duration: _Optional[int] = ..., poc_validation_delay: _Optional[int] = ..., poc_validation_duration: _Optional[int] = ..., set_new_validators_delay: _Optional[int] = ...) -> None: ...

class QueryParamsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class QueryParamsResponse(_message.Message):
    __slots__ = ("params",)
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    params: Params
    def __init__(self, params: _Optional[_Union[Params, _Mapping]] = ...) -> None: ...
