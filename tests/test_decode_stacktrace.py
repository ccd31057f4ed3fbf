"""Splitting Java stack traces for the detail pane (no stack)."""

from __future__ import annotations

from dlq_tui.decode.stacktrace import LineKind, own_package, split_stack_trace

SPRING = (
    "org.springframework.kafka.listener.ListenerExecutionFailedException: Listener method threw exception\n"
    "\tat org.springframework.kafka.listener.KafkaMessageListenerContainer.decorate(KafkaMessageListenerContainer.java:2996)\n"
    "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
    "Caused by: com.flyeralarm.crm.OrderNotFoundException: Order not found in CRM\n"
    "\tat com.flyeralarm.crm.CrmClient.find(CrmClient.java:88)\n"
    "\tat com.flyeralarm.crm.OrderCanceledListener.onMessage(OrderCanceledListener.java:42)\n"
    "\tat jdk.internal.reflect.GeneratedMethodAccessor.invoke(Unknown Source)\n"
    "\tat com.fasterxml.jackson.databind.ObjectMapper.readValue(ObjectMapper.java:3000)\n"
    "\tat org.acme.util.Retry.call(Retry.java:10)\n"
    "\t... 12 more\n"
)


def test_frames_one_per_line_with_own_and_framework_flags() -> None:
    lines = split_stack_trace(SPRING)
    kinds = [line.kind for line in lines]
    assert kinds == [
        LineKind.EXCEPTION,
        LineKind.FRAME,
        LineKind.FRAME,
        LineKind.CAUSED_BY,
        *[LineKind.FRAME] * 5,
        LineKind.MORE,
    ]
    assert lines[0].exception == "org.springframework.kafka.listener.ListenerExecutionFailedException"
    assert lines[0].framework
    assert lines[3].exception == "com.flyeralarm.crm.OrderNotFoundException" and not lines[3].framework
    frames = [line for line in lines if line.kind is LineKind.FRAME]
    assert [(f.own, f.framework) for f in frames] == [
        (False, True),  # org.springframework.
        (False, True),  # java.base/java.lang (module prefix)
        (True, False),  # com.flyeralarm: the package of the first non-framework exception
        (True, False),
        (False, True),  # jdk.
        (False, True),  # com.fasterxml.jackson.
        (False, False),  # a library: neither
    ]
    assert frames[2].text == "at com.flyeralarm.crm.CrmClient.find(CrmClient.java:88)"
    assert frames[2].frame == "com.flyeralarm.crm.CrmClient.find(CrmClient.java:88)"
    assert lines[-1].text == "... 12 more"


def test_at_and_the_frame_on_the_next_line_are_one_frame() -> None:
    text = (
        "com.example.orders.BadOrder: nope\n"
        " at\n"
        "com.example.orders.Handler.handle(Handler.java:7)\n"
        "\tat\n"
        "\torg.springframework.kafka.Listener.on(Listener.java:1)\n"
    )
    lines = split_stack_trace(text)
    assert [line.text for line in lines] == [
        "com.example.orders.BadOrder: nope",
        "at com.example.orders.Handler.handle(Handler.java:7)",
        "at org.springframework.kafka.Listener.on(Listener.java:1)",
    ]
    assert [line.own for line in lines[1:]] == [True, False]


def test_a_trace_on_one_line_with_tab_separated_frames() -> None:
    text = "com.example.X: boom\tat com.example.A.b(A.java:1)\tat java.lang.Thread.run(Thread.java:1)"
    lines = split_stack_trace(text)
    assert [line.kind for line in lines] == [LineKind.EXCEPTION, LineKind.FRAME, LineKind.FRAME]
    assert lines[1].own and lines[2].framework


def test_suppressed_blocks_nest_and_crlf_is_a_newline() -> None:
    text = (
        "java.lang.IllegalStateException: outer\r\n"
        "\tat com.acme.shop.A.a(A.java:1)\r\n"
        "\tSuppressed: java.io.IOException: close failed\r\n"
        "\t\tat com.acme.shop.B.close(B.java:2)\r\n"
        "Caused by: java.net.SocketTimeoutException: Read timed out\r\n"
        "\tat java.net.Socket.read(Socket.java:3)\r\n"
    )
    lines = split_stack_trace(text)
    assert [(line.kind, line.depth) for line in lines] == [
        (LineKind.EXCEPTION, 0),
        (LineKind.FRAME, 0),
        (LineKind.SUPPRESSED, 1),
        (LineKind.FRAME, 1),
        (LineKind.CAUSED_BY, 0),
        (LineKind.FRAME, 0),
    ]
    # every exception is a framework one: the own package comes from the first other frame
    assert lines[1].own and lines[3].own and not lines[5].own


def test_multi_line_message_and_text_that_is_no_trace() -> None:
    lines = split_stack_trace(
        "com.acme.Oops: first line\nsecond line of the message\n\tat com.acme.X.y(X.java:1)"
    )
    assert [line.kind for line in lines] == [LineKind.EXCEPTION, LineKind.TEXT, LineKind.FRAME]
    plain = split_stack_trace("just some text\n\nmore")
    assert [line.kind for line in plain] == [LineKind.TEXT] * 3
    assert not any(line.own for line in plain)
    assert split_stack_trace("") == []


def test_own_package_is_the_first_two_segments() -> None:
    assert own_package("com.flyeralarm.crm.OrderNotFoundException") == "com.flyeralarm"
    assert own_package("Boom") is None
    assert own_package("a.B") is None
