"""Protobuf test schemas: the .proto texts registered in the registry, and message classes built
from hand-written descriptors (not from dlq-tui's compiler), so the bytes the tests produce are an
independent witness of what the schema text means."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

MONEY_PROTO = """\
syntax = "proto3";
package shop.common;

message Money {
  string currency = 1;
  int64 units = 2;
}
"""

ORDER_PROTO = """\
syntax = "proto3";
package shop;

import "shop/common/money.proto";
import "google/protobuf/timestamp.proto";

// The first message: index [0]
message Ping { string note = 1; }

message Order {
  string id = 1;
  Customer customer = 2;
  repeated Line lines = 3;
  map<string, string> tags = 4;
  oneof payment {
    string card = 5;
    string iban = 6;
  }
  Status status = 7;
  google.protobuf.Timestamp created = 8;
  shop.common.Money total = 9;

  message Customer {
    string name = 1;
    Address address = 2;
    message Address { string city = 1; }
  }
  message Line {
    string sku = 1;
    uint32 qty = 2;
  }
  enum Status {
    STATUS_UNKNOWN = 0;
    PLACED = 1;
    CANCELED = 2;
  }
}
"""

MONEY_REF_NAME = "shop/common/money.proto"

F = descriptor_pb2.FieldDescriptorProto
OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def _field(msg: Any, name: str, number: int, ftype: int, type_name: str = "", label: int = OPT) -> Any:
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    return f


def order_classes() -> dict[str, Any]:
    """Message classes for ``shop.Ping``, ``shop.Order`` (and nested), ``shop.common.Money``."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(timestamp_pb2.DESCRIPTOR.serialized_pb))

    money_file = descriptor_pb2.FileDescriptorProto(
        name=MONEY_REF_NAME, package="shop.common", syntax="proto3"
    )
    money = money_file.message_type.add(name="Money")
    _field(money, "currency", 1, F.TYPE_STRING)
    _field(money, "units", 2, F.TYPE_INT64)
    pool.Add(money_file)

    fd = descriptor_pb2.FileDescriptorProto(name="order.proto", package="shop", syntax="proto3")
    fd.dependency.extend([MONEY_REF_NAME, "google/protobuf/timestamp.proto"])
    ping = fd.message_type.add(name="Ping")
    _field(ping, "note", 1, F.TYPE_STRING)
    order = fd.message_type.add(name="Order")
    customer = order.nested_type.add(name="Customer")
    address = customer.nested_type.add(name="Address")
    _field(address, "city", 1, F.TYPE_STRING)
    _field(customer, "name", 1, F.TYPE_STRING)
    _field(customer, "address", 2, F.TYPE_MESSAGE, ".shop.Order.Customer.Address")
    line = order.nested_type.add(name="Line")
    _field(line, "sku", 1, F.TYPE_STRING)
    _field(line, "qty", 2, F.TYPE_UINT32)
    entry = order.nested_type.add(name="TagsEntry")
    entry.options.map_entry = True
    _field(entry, "key", 1, F.TYPE_STRING)
    _field(entry, "value", 2, F.TYPE_STRING)
    status = order.enum_type.add(name="Status")
    for name, number in (("STATUS_UNKNOWN", 0), ("PLACED", 1), ("CANCELED", 2)):
        status.value.add(name=name, number=number)
    order.oneof_decl.add(name="payment")
    _field(order, "id", 1, F.TYPE_STRING)
    _field(order, "customer", 2, F.TYPE_MESSAGE, ".shop.Order.Customer")
    _field(order, "lines", 3, F.TYPE_MESSAGE, ".shop.Order.Line", REP)
    _field(order, "tags", 4, F.TYPE_MESSAGE, ".shop.Order.TagsEntry", REP)
    _field(order, "card", 5, F.TYPE_STRING).oneof_index = 0
    _field(order, "iban", 6, F.TYPE_STRING).oneof_index = 0
    _field(order, "status", 7, F.TYPE_ENUM, ".shop.Order.Status")
    _field(order, "created", 8, F.TYPE_MESSAGE, ".google.protobuf.Timestamp")
    _field(order, "total", 9, F.TYPE_MESSAGE, ".shop.common.Money")
    pool.Add(fd)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
        for name in ("shop.Ping", "shop.Order", "shop.common.Money", "shop.Order.Customer")
    }


def sample_order(classes: dict[str, Any], name: str = "Bob") -> Any:
    order = classes["shop.Order"](id="ORD-P1", card="4111-xxxx", status=2)
    order.customer.name = name
    order.customer.address.city = "Würzburg"
    order.lines.add(sku="SKU-1", qty=2)
    order.lines.add(sku="SKU-2", qty=1)
    order.tags["channel"] = "web"
    order.created.FromSeconds(1_764_000_000)
    order.total.currency = "EUR"
    order.total.units = 2**40
    return order


SAMPLE_ORDER_JSON = {
    "id": "ORD-P1",
    "customer": {"name": "Bob", "address": {"city": "Würzburg"}},
    "lines": [{"sku": "SKU-1", "qty": 2}, {"sku": "SKU-2", "qty": 1}],
    "tags": {"channel": "web"},
    "card": "4111-xxxx",
    "status": "CANCELED",
    "created": "2025-11-24T16:00:00Z",
    "total": {"currency": "EUR", "units": "1099511627776"},
}
