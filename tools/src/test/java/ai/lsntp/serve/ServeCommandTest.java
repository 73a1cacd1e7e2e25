package ai.lsntp.serve;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.config.Topic;
import ai.lsntp.testing.Cli;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.TestJobConfig;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** ./lsntp serve's answers to what a user gets wrong: one line and an exit status, never a stack trace. */
class ServeCommandTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @Test
  void aPortOutOfRangeIsBadInput() {
    Cli c = Cli.run(new ServeCommand(), "--port", "70000", "-b", kafka.bootstrapServers());
    assertThat(c.exit).isEqualTo(2);
    assertThat(c.err.strip()).isEqualTo("lsntp serve: error: --port: must be 0..65535, got 70000");
  }

  @Test
  void aMissingTopicIsNamed() {
    Cli c = Cli.run(new ServeCommand(), "--port", "0", "-b", kafka.bootstrapServers(), "--set", "topics.frames=nowhere");
    assertThat(c.exit).isEqualTo(1);
    assertThat(c.err.strip()).startsWith("lsntp serve: error: topic 'nowhere' does not exist").doesNotContain("\tat ");
  }

  @Test
  void aPortInUseIsNamed() throws Exception {
    kafka.createTopics(1, Topic.namesUnder("taken"));
    List<String> args = new ArrayList<>(List.of("-b", kafka.bootstrapServers()));
    args.addAll(TestJobConfig.topicArguments("taken"));
    try (ServerSocket busy = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      args.addAll(List.of("--port", Integer.toString(busy.getLocalPort())));
      Cli c = Cli.run(new ServeCommand(), args.toArray(String[]::new));
      assertThat(c.exit).isEqualTo(1);
      assertThat(c.err.strip()).startsWith("lsntp serve: error: cannot listen on 127.0.0.1:" + busy.getLocalPort())
          .doesNotContain("\tat ").hasLineCount(1);
    }
  }
}
