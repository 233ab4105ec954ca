"""The inventory kernel: typed tables and plain functions that must never be wrong.

It knows nothing about forms, YAML or HTTP; the engines above call it and it raises typed errors.
Stock changes only through ``post_movements``; reads go through ``queries``.
"""

from app.kernel import allocation, audit, jobs, periods, prices, queries, replenishment, tokens
from app.kernel.errors import (
    AllocationImpossible,
    ExpiredLotNotAccepted,
    ExpiryRequired,
    InsufficientStock,
    InvalidGTIN,
    InvalidMovement,
    KernelError,
    LocationAlreadyLocked,
    LocationInactive,
    LocationLocked,
    LotBlocked,
    LotExpired,
    LotMismatch,
    NotAStockLocation,
    NotTracked,
    OverReceipt,
    RecalledNotAccepted,
    ReservationNotFound,
    StockNotAvailable,
    TrackingRequired,
    TransferLineNotFound,
    UDIError,
    UnitAlreadyInStock,
    UnitNotHere,
    UnknownItem,
)
from app.kernel.items import (
    DeviceClass,
    Item,
    Lot,
    LotStatus,
    StorageCondition,
    TrackingMode,
    Unit,
    UnitStatus,
    add_item,
    business_today,
    get_or_create_lot,
    get_or_create_unit,
    is_valid_gtin,
    item_by_gtin,
    lot_of,
)
from app.kernel.locations import Location, LocationType, add_location, descendants, region_of
from app.kernel.reservations import Reservation, allocate, consume, release, reserve
from app.kernel.retry import run_in_transaction
from app.kernel.stock import (
    LedgerEntry,
    LedgerRow,
    Movement,
    Reason,
    StockBalance,
    StockStatus,
    correct_entry,
    post_movements,
)
from app.kernel.stock_locks import StockLock, close_stock_lock, open_stock_lock
from app.kernel.stocktake import (
    CountEntry,
    CountInReview,
    Stocktake,
    StocktakeError,
    StocktakeState,
    abort_stocktake,
    add_count,
    approve_stocktake,
    open_stocktake,
    resume_counting,
    stocktake_of,
    submit_stocktake,
    variance,
)
from app.kernel.tokens import ApiToken
from app.kernel.transfers import (
    ReceiveLine,
    ShipLine,
    TransferLine,
    TransitRoute,
    goods_in_transit,
    receive,
    return_remainder,
    ship,
    transit_location,
)
from app.kernel.udi import UDI, check_udi, parse_udi
from app.kernel.users import User

__all__ = [
    "AllocationImpossible", "ApiToken", "CountEntry", "CountInReview", "DeviceClass",
    "ExpiredLotNotAccepted", "ExpiryRequired", "InsufficientStock", "InvalidGTIN",
    "InvalidMovement", "Item", "KernelError",
    "LedgerEntry", "LedgerRow",
    "Location", "LocationAlreadyLocked", "LocationInactive", "LocationLocked", "LocationType",
    "Lot", "LotBlocked", "LotExpired", "LotMismatch", "LotStatus", "Movement",
    "NotAStockLocation", "NotTracked", "OverReceipt", "Reason", "RecalledNotAccepted",
    "ReceiveLine", "Reservation",
    "ReservationNotFound", "ShipLine", "StockBalance", "StockLock", "StockNotAvailable",
    "StockStatus", "Stocktake", "StocktakeError", "StocktakeState", "StorageCondition",
    "TrackingMode", "TrackingRequired", "TransferLine", "TransferLineNotFound", "TransitRoute",
    "UDI", "UDIError", "Unit", "UnitAlreadyInStock", "UnitNotHere", "UnitStatus", "UnknownItem",
    "User", "abort_stocktake", "add_count", "add_item", "add_location", "allocate",
    "allocation",
    "approve_stocktake", "audit", "business_today", "check_udi", "close_stock_lock", "consume",
    "correct_entry", "descendants", "get_or_create_lot", "get_or_create_unit",
    "goods_in_transit", "is_valid_gtin", "item_by_gtin", "jobs", "lot_of", "open_stock_lock",
    "open_stocktake", "parse_udi", "periods", "post_movements", "prices", "queries", "receive",
    "region_of",
    "release", "replenishment", "reserve", "resume_counting", "return_remainder",
    "run_in_transaction", "ship", "stocktake_of", "submit_stocktake",
    "tokens", "transit_location", "variance",
]  # fmt: skip
