package ai.lsntp.system;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

/**
 * A real JVM process of its own (a job, a JobManager, a TaskManager, a CLI), started the way
 * tools/bin/run starts one: its classpath in a manifest-only jar (ONNX Runtime 1.29 crashes a JVM
 * whose java.class.path is a few kilobytes long), Flink's --add-opens, Avro's trusted package.
 * {@link #kill()} is SIGKILL: the process gets no chance to clean up, as in a crash.
 */
final class ChildJvm implements AutoCloseable {
  private static final String[] OPENS = {"java.lang", "java.lang.reflect", "java.util", "java.util.concurrent",
      "java.util.concurrent.atomic", "java.util.concurrent.locks", "java.io", "java.net", "java.nio", "sun.nio.ch",
      "java.text", "java.time", "java.math"};

  final String name;
  final Process process;
  final Path log;

  private ChildJvm(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  /** The test JVM's own classpath (surefire hands it to forked tests), entry by entry. */
  static List<String> testClasspath() {
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> out = new ArrayList<>();
    for (String e : cp.split(File.pathSeparator)) {
      if (!e.isBlank()) {
        out.add(e);
      }
    }
    return out;
  }

  /**
   * Flink's own runtime out of the test classpath: what a Flink distribution's lib/ holds, without
   * this project's classes and the libraries the application jar brings itself (its connector,
   * Avro, ONNX Runtime, Kafka clients), so the cluster loads those from the submitted jar only.
   */
  static List<String> flinkDistribution() {
    Predicate<String> ours = e -> e.contains("/ai/lsntp/") || e.endsWith("/classes") || e.endsWith("/test-classes");
    Predicate<String> bundled = e -> e.contains("onnxruntime") || e.contains("/org/apache/kafka/")
        || e.contains("flink-connector-kafka") || e.contains("flink-avro") || e.contains("/org/apache/avro/")
        || e.contains("/org/scala-lang/") || e.contains("picocli") || e.contains("jackson-dataformat-yaml")
        || e.contains("/org/yaml/snakeyaml/") || e.contains("junit") || e.contains("assertj")
        || e.contains("opentest4j");
    List<String> out = new ArrayList<>();
    for (String e : testClasspath()) {
      if (!ours.test(e) && !bundled.test(e)) {
        out.add(e);
      }
    }
    return out;
  }

  static ChildJvm start(String name, Path workDir, List<String> classpath, String heap, Map<String, String> env,
      List<String> jvmArgs, String mainClass, List<String> args) throws IOException {
    Files.createDirectories(workDir);
    Path jar = workDir.resolve(name + "-classpath.jar");
    Manifest mf = new Manifest();
    mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    StringBuilder cp = new StringBuilder();
    for (String e : classpath) {
      Path p = Path.of(e).toAbsolutePath();
      cp.append(p.toUri().toString()).append(Files.isDirectory(p) && !p.toString().endsWith("/") ? "/ " : " ");
    }
    mf.getMainAttributes().put(Attributes.Name.CLASS_PATH, cp.toString().trim());
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), mf)) {
      // a manifest and nothing else
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx" + heap);
    for (String o : OPENS) {
      cmd.add("--add-opens=java.base/" + o + "=ALL-UNNAMED");
    }
    cmd.add("-Dorg.apache.avro.SERIALIZABLE_PACKAGES=ai.lsntp.avro");
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(jar.toString());
    cmd.add(mainClass);
    cmd.addAll(args);
    Path log = workDir.resolve(name + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().putAll(env);
    System.out.println("starting " + name + ": " + mainClass + " " + String.join(" ", args) + " (log " + log + ")");
    return new ChildJvm(name, pb.start(), log);
  }

  /** SIGKILL, then wait for the process to be gone. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      throw new AssertionError(name + " survived SIGKILL for 30 s");
    }
  }

  String logText() {
    try {
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e.getMessage() + ")";
    }
  }

  /** The last lines of the process's output, for a failure message. */
  String tail(int lines) {
    String[] all = logText().split("\n");
    return String.join("\n", java.util.Arrays.copyOfRange(all, Math.max(0, all.length - lines), all.length));
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      kill();
    }
  }
}
