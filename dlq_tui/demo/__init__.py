"""The demo DLQ: the seed article's order-canceled dead letter queue, with the awkward records an
on-call engineer meets (poison bytes, invalid UTF-8, keyless, terminal escapes and markup)."""
