package ai.lsntp.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Variants of the shipped models for tests: a copy whose metadata says something else (another
 * version, another grid id), written with Python's onnx package (model-export's own tool chain;
 * Java has no ONNX writer), and the parity files that belong with it.
 */
public final class ModelFiles {
  private ModelFiles() {}

  /** Copies {@code src} to {@code dst} with these metadata properties replaced. */
  public static Path withMetadata(Path src, Path dst, Map<String, String> changes) throws IOException, InterruptedException {
    Files.createDirectories(dst.toAbsolutePath().getParent());
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", "-c",
        "import onnx, sys\n"
            + "m = onnx.load(sys.argv[1])\n"
            + "changes = dict(zip(sys.argv[3::2], sys.argv[4::2]))\n"
            + "for e in m.metadata_props:\n"
            + "    if e.key in changes: e.value = changes[e.key]\n"
            + "onnx.save(m, sys.argv[2])\n",
        src.toString(), dst.toString()));
    changes.forEach((k, v) -> {
      cmd.add(k);
      cmd.add(v);
    });
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("could not rewrite the metadata of " + src + " into " + dst);
    }
    return dst;
  }

  /** Copies a shipped model folder (model.onnx and its parity files) into {@code dir}. */
  public static Path copyFolder(Path modelFolder, Path dir) throws IOException {
    Files.createDirectories(dir);
    try (var files = Files.list(modelFolder)) {
      for (Path f : files.filter(f -> f.getFileName().toString().matches("model\\.onnx|parity.*")).toList()) {
        Files.copy(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return dir;
  }

  /** Puts {@code file} in place at {@code target} the way operators should: one rename, never a half-written file. */
  public static void moveIntoPlace(Path file, Path target) throws IOException {
    Files.createDirectories(target.getParent());
    Files.move(file, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
