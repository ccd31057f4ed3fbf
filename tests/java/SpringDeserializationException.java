// Writes a Java-serialized exception shaped like Spring Kafka's DeserializationException (same package,
// class name and serialized fields: a KafkaException with an enum log level, then `data` and `isKey`)
// to the file named by the first argument; the failed bytes are the second argument (UTF-8), the
// message the third. Run as a single-file source program: java SpringDeserializationException.java OUT DATA MSG
package org.springframework.kafka.support.serializer;

import java.io.FileOutputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;

public class SpringDeserializationException {
    public static void main(String[] args) throws Exception {
        byte[] data = args[1].getBytes(StandardCharsets.UTF_8);
        Exception root = new IllegalArgumentException("Unknown magic byte!");
        Exception cause = new IllegalStateException("Error deserializing Avro message for id " + data.length, root);
        DeserializationException e = new DeserializationException(args[2], data, false, cause);
        try (ObjectOutputStream out = new ObjectOutputStream(new FileOutputStream(args[0]))) {
            out.writeObject(e);
        }
    }
}

class KafkaException extends RuntimeException {
    enum Level { ERROR, WARN, INFO }

    private Level logLevel = Level.ERROR;

    KafkaException(String message, Throwable cause) {
        super(message, cause);
    }
}

class DeserializationException extends KafkaException {
    private transient Object headers;
    private final byte[] data;
    private final boolean isKey;

    DeserializationException(String message, byte[] data, boolean isKey, Throwable cause) {
        super(message, cause);
        this.data = data;
        this.isKey = isKey;
    }
}
