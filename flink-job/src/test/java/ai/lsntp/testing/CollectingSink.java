package ai.lsntp.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

/**
 * A sink that keeps what it is given in this JVM, under a name: the job's test outputs on a
 * MiniCluster (which runs in the test's JVM), in place of the Kafka sinks. At-least-once: it sees
 * every record the job emits, including any a restart would replay, which is what a test wants to
 * count.
 */
public final class CollectingSink<T> implements Sink<T> {
  private static final long serialVersionUID = 1L;
  private static final Map<String, Queue<Object>> COLLECTED = new ConcurrentHashMap<>();

  private final String name;

  private CollectingSink(String name) {
    this.name = name;
  }

  /** A sink under a fresh {@code name}; what an earlier sink of that name collected is dropped. */
  public static <T> CollectingSink<T> named(String name) {
    COLLECTED.put(name, new ConcurrentLinkedQueue<>());
    return new CollectingSink<>(name);
  }

  /** What the sink has been given so far, in arrival order. */
  @SuppressWarnings("unchecked")
  public List<T> collected() {
    List<T> out = new ArrayList<>();
    for (Object o : COLLECTED.getOrDefault(name, new ConcurrentLinkedQueue<>())) {
      out.add((T) o);
    }
    return out;
  }

  @Override
  public SinkWriter<T> createWriter(WriterInitContext context) {
    Queue<Object> into = COLLECTED.computeIfAbsent(name, n -> new ConcurrentLinkedQueue<>());
    return new SinkWriter<>() {
      @Override
      public void write(T element, Context ctx) {
        into.add(element);
      }

      @Override
      public void flush(boolean endOfInput) {}

      @Override
      public void close() {}
    };
  }
}
