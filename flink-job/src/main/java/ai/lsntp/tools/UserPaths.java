package ai.lsntp.tools;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * File arguments as the user meant them: the launcher runs Java from the repository root, so a
 * relative path is resolved against the caller's directory (LSNTP_CWD, set by flink-job/bin/run)
 * when it names something there, else against the working directory.
 */
final class UserPaths {
  private UserPaths() {}

  static Path input(Path p) {
    String cwd = System.getenv("LSNTP_CWD");
    if (p.isAbsolute() || cwd == null || cwd.isBlank()) {
      return p;
    }
    Path there = Path.of(cwd).resolve(p);
    return Files.exists(there) || !Files.exists(p) ? there : p;
  }

  static Path output(Path p) {
    String cwd = System.getenv("LSNTP_CWD");
    if (p.isAbsolute() || cwd == null || cwd.isBlank()) {
      return p;
    }
    return Path.of(cwd).resolve(p);
  }
}
