package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.job.Reason;
import ai.lsntp.testing.TestPaths;
import java.nio.file.Files;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** What the operators' documentation must keep saying as the code changes. */
class DocumentationTest {
  @Test
  void operationsListsEveryRejectCodeTheJobEmitsWithWhatToDo() throws Exception {
    String ops = Files.readString(TestPaths.root().resolve("deploy/OPERATIONS.md"));
    for (Reason r : Reason.values()) {
      assertThat(Pattern.compile("(?m)^\\| `" + r.name() + "` \\|[^|]+\\|[^|]+\\|$").matcher(ops).find())
          .as("deploy/OPERATIONS.md has a row '| `%s` | what it means | what to do |'", r.name()).isTrue();
    }
  }
}
