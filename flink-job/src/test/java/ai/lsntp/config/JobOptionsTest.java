package ai.lsntp.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** The named flags of the commands that run the job. */
class JobOptionsTest {
  @Command(name = "job")
  static final class Holder {
    @Mixin JobOptions options;
  }

  @Test
  void everyTopicHasItsOwnFlag() {
    for (Topic t : Topic.values()) {
      Holder h = new Holder();
      new CommandLine(h).parseArgs("--" + t.sectionKey() + "-topic", "site." + t.sectionKey());
      LsntpConfig cfg = h.options.toConfig(java.util.Map.of());
      assertThat(t.in(cfg)).as("--%s-topic", t.sectionKey()).isEqualTo("site." + t.sectionKey());
      for (Topic other : Topic.values()) {
        if (other != t) {
          assertThat(other.in(cfg)).as("%s untouched by --%s-topic", other.key(), t.sectionKey()).isEqualTo(other.defaultName());
        }
      }
    }
  }
}
