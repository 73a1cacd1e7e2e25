package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.TestPaths;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A clone is all a user has: no tracked text file may point at a place outside the repository
 * (a sibling folder of the clone, or this build machine's own absolute paths), and every
 * relative link in the documentation must land on a file that exists in the repository.
 */
class RepositoryPathsTest {
  /** Built from parts so that this file does not match itself. */
  static final Pattern OUTSIDE = Pattern.compile("\\.\\./" + "shared|(?<![\\w.])/" + "work/|(?<![\\w.])/" + "root/");
  static final Pattern MD_LINK = Pattern.compile("\\]\\(([^)\\s#]+)(#[^)]*)?\\)");

  static List<Path> trackedTextFiles() throws Exception {
    Path root = TestPaths.root();
    Process git = new ProcessBuilder("git", "ls-files", "-z").directory(root.toFile()).start();
    String out = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(git.waitFor(60, TimeUnit.SECONDS) && git.exitValue() == 0).as("git ls-files in %s", root).isTrue();
    List<Path> files = new ArrayList<>();
    for (String name : out.split("\0")) {
      Path p = root.resolve(name);
      if (name.isEmpty() || !Files.isRegularFile(p)) {
        continue;
      }
      byte[] head = Files.readAllBytes(p);
      boolean binary = false;
      for (int i = 0; i < Math.min(head.length, 8000); i++) {
        binary |= head[i] == 0;
      }
      if (!binary) {
        files.add(p);
      }
    }
    assertThat(files).as("tracked text files").hasSizeGreaterThan(100);
    return files;
  }

  @Test
  void noTrackedFileRefersToAPathOutsideTheRepository() throws Exception {
    Path root = TestPaths.root();
    List<String> found = new ArrayList<>();
    for (Path f : trackedTextFiles()) {
      String[] lines = Files.readString(f, StandardCharsets.ISO_8859_1).split("\n");
      for (int i = 0; i < lines.length; i++) {
        if (OUTSIDE.matcher(lines[i]).find()) {
          found.add(root.relativize(f) + ":" + (i + 1) + ": " + lines[i].strip());
        }
      }
    }
    assertThat(found).as("lines that point outside the repository").isEmpty();
  }

  @Test
  void everyRelativeLinkInTheDocumentationLandsInTheRepository() throws Exception {
    Path root = TestPaths.root().toRealPath();
    List<String> broken = new ArrayList<>();
    for (Path f : trackedTextFiles()) {
      if (!f.toString().endsWith(".md")) {
        continue;
      }
      Matcher m = MD_LINK.matcher(Files.readString(f));
      while (m.find()) {
        String target = m.group(1);
        if (target.matches("^[a-z][a-z0-9+.-]*:.*")) {
          continue; // http:, https:, mailto:
        }
        Path p = f.getParent().resolve(target).normalize();
        if (!p.startsWith(root) || !Files.exists(p)) {
          broken.add(root.relativize(f) + " -> " + target);
        }
      }
    }
    assertThat(broken).as("links to nowhere, or outside the repository").isEmpty();
  }
}
