package ai.lsntp.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the shipped models and data are: system properties set by surefire (see the parent pom). */
public final class TestPaths {
  private TestPaths() {}

  public static Path root() {
    String p = System.getProperty("lsntp.root");
    // maven.multiModuleProjectDirectory is the directory mvn ran in when there is no .mvn/:
    // accept it only if it is the repository root, else look upwards for ./lsntp
    Path here = p != null ? Path.of(p).toAbsolutePath() : Path.of("").toAbsolutePath();
    while (here != null && !Files.exists(here.resolve("lsntp"))) {
      here = here.getParent();
    }
    if (here == null) {
      throw new IllegalStateException("cannot find the repository root (set -Dlsntp.root)");
    }
    return here;
  }

  public static Path models() {
    String p = System.getProperty("lsntp.models");
    return p != null && Files.isDirectory(Path.of(p)) ? Path.of(p) : root().resolve("models");
  }

  public static Path ukFrames() {
    String p = System.getProperty("lsntp.data");
    Path data = p != null && Files.isDirectory(Path.of(p)) ? Path.of(p) : root().resolve("data");
    return data.resolve("frames/era5-uk-2019-03.avro");
  }
}
