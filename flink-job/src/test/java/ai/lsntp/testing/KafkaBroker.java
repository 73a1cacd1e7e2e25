package ai.lsntp.testing;

import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import ai.lsntp.embedded.EmbeddedKafka;
import java.util.Map;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real KRaft broker (Kafka's own test kit, as the demo runs it) for one test class:
 * {@code @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();} starts it before
 * the class's own {@code @BeforeAll} methods and closes it after its {@code @AfterAll} ones.
 */
public final class KafkaBroker implements BeforeAllCallback, AfterAllCallback {
  private EmbeddedKafka broker;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    broker = EmbeddedKafka.start();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    if (broker != null) {
      broker.close();
      broker = null;
    }
  }

  private EmbeddedKafka broker() {
    if (broker == null) {
      throw new IllegalStateException("the broker runs only while the test class does (register it as a static field)");
    }
    return broker;
  }

  public String bootstrapServers() {
    return broker().bootstrapServers();
  }

  public void createTopics(int partitions, String... topics) throws Exception {
    broker().createTopics(partitions, topics);
  }

  public void createTopics(int partitions, Map<String, String> configs, String... topics) throws Exception {
    broker().createTopics(partitions, configs, topics);
  }
}
