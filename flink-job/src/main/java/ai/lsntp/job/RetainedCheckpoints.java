package ai.lsntp.job;

import ai.lsntp.config.ConfigException;
import ai.lsntp.config.LsntpConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The checkpoints a local run keeps (checkpoints.directory), laid out by Flink as
 * {@code <directory>/<job name>/<job id>/chk-<n>/_metadata}: a checkpoint is complete once its
 * _metadata exists. The newest complete one across the job's earlier runs is where ./lsntp job
 * resumes by default.
 */
public final class RetainedCheckpoints {
  private static final Pattern CHK = Pattern.compile("chk-(\\d+)");

  private RetainedCheckpoints() {}

  /** This job's checkpoint directory as a Flink URI: checkpoints.directory/job.name. */
  public static URI jobDirectory(LsntpConfig cfg) {
    String dir = cfg.checkpoints.directory;
    URI base = dir.contains("://") ? URI.create(dir.endsWith("/") ? dir : dir + "/")
        : Path.of(dir).toAbsolutePath().normalize().toUri();
    return base.resolve(cfg.job.name.replaceAll("[^A-Za-z0-9._-]", "_") + "/");
  }

  /**
   * The newest complete checkpoint of the job under a local checkpoints.directory: the one whose
   * _metadata was written last. Empty when there is none (first run) or the directory is not local.
   */
  public static Optional<Path> newest(LsntpConfig cfg) {
    URI dir = jobDirectory(cfg);
    if (!"file".equals(dir.getScheme())) {
      return Optional.empty();
    }
    Path root = Path.of(dir);
    if (!Files.isDirectory(root)) {
      return Optional.empty();
    }
    try (Stream<Path> s = Files.find(root, 3, (p, a) -> a.isRegularFile() && p.getFileName().toString().equals("_metadata")
        && CHK.matcher(p.getParent().getFileName().toString()).matches())) {
      return s.max(Comparator.comparingLong(RetainedCheckpoints::modified)).map(Path::getParent);
    } catch (IOException e) {
      throw new ConfigException("checkpoints.directory: cannot list " + root + ": " + e.getMessage(), e);
    }
  }

  /** The checkpoint number of a chk-N directory. */
  public static long number(Path checkpoint) {
    Matcher m = CHK.matcher(checkpoint.getFileName().toString());
    return m.matches() ? Long.parseLong(m.group(1)) : -1;
  }

  private static long modified(Path p) {
    try {
      return Files.getLastModifiedTime(p).toMillis();
    } catch (IOException e) {
      return Long.MIN_VALUE;
    }
  }
}
