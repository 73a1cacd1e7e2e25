package ai.lsntp.config;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * File arguments as the user meant them: ./lsntp runs Java from the repository root, so a relative
 * path is resolved against the caller's directory (LSNTP_CWD, set by tools/bin/run) when it names
 * something there, else against the working directory. Without LSNTP_CWD (a cluster, a container)
 * paths are taken as they are.
 */
public final class UserPaths {
  private UserPaths() {}

  public static Path input(Path p) {
    String cwd = System.getenv("LSNTP_CWD");
    if (p.isAbsolute() || cwd == null || cwd.isBlank()) {
      return p;
    }
    Path there = Path.of(cwd).resolve(p);
    return Files.exists(there) || !Files.exists(p) ? there : p;
  }

  public static Path output(Path p) {
    String cwd = System.getenv("LSNTP_CWD");
    if (p.isAbsolute() || cwd == null || cwd.isBlank()) {
      return p;
    }
    return Path.of(cwd).resolve(p);
  }
}
