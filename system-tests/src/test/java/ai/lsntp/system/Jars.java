package ai.lsntp.system;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/** The entries of a built jar. */
final class Jars {
  private Jars() {}

  static List<String> entries(Path jar) throws IOException {
    if (!jar.toFile().isFile()) {
      throw new AssertionError(jar + " is not built (system-tests run after the job and the tools are packaged)");
    }
    List<String> out = new ArrayList<>();
    try (ZipFile z = new ZipFile(jar.toFile())) {
      for (Enumeration<? extends ZipEntry> e = z.entries(); e.hasMoreElements(); ) {
        out.add(e.nextElement().getName());
      }
    }
    return out;
  }
}
