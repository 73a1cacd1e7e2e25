package ai.lsntp.system;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A standalone Flink cluster of separate JVM processes started from Flink's own entry points (as
 * Flink's start-cluster.sh starts them): one JobManager (StandaloneSessionClusterEntrypoint) and
 * TaskManagers (TaskManagerRunner), on 127.0.0.1, with Flink's runtime jars only on their
 * classpath. Jobs go in through Flink's CLI (CliFrontend, `flink run`); the REST API answers how
 * they are doing.
 */
final class StandaloneFlinkCluster implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  final Path dir;
  final Path conf;
  final int restPort;
  final List<ChildJvm> taskManagers = new ArrayList<>();
  private ChildJvm jobManager;
  private final HttpClient http = HttpClient.newHttpClient();

  StandaloneFlinkCluster(Path dir, Map<String, String> settings) throws IOException {
    this.dir = dir;
    this.conf = Files.createDirectories(dir.resolve("conf"));
    this.restPort = freePort();
    Map<String, String> c = new LinkedHashMap<>();
    c.put("jobmanager.rpc.address", "127.0.0.1");
    c.put("jobmanager.rpc.port", Integer.toString(freePort()));
    c.put("jobmanager.bind-host", "127.0.0.1");
    c.put("jobmanager.memory.process.size", "800m");
    c.put("rest.address", "127.0.0.1");
    c.put("rest.bind-address", "127.0.0.1");
    c.put("rest.port", Integer.toString(restPort));
    c.put("taskmanager.host", "127.0.0.1");
    c.put("taskmanager.bind-host", "127.0.0.1");
    // taskmanager.sh works these out with BashJavaUtils; a TaskManagerRunner started directly needs them spelled out
    c.put("taskmanager.cpu.cores", "2");
    c.put("taskmanager.memory.framework.heap.size", "128m");
    c.put("taskmanager.memory.framework.off-heap.size", "128m");
    c.put("taskmanager.memory.task.heap.size", "384m");
    c.put("taskmanager.memory.task.off-heap.size", "256m"); // ONNX Runtime's native sessions
    c.put("taskmanager.memory.network.min", "64m");
    c.put("taskmanager.memory.network.max", "64m");
    c.put("taskmanager.memory.managed.size", "32m");
    c.put("taskmanager.memory.jvm-metaspace.size", "192m");
    c.put("taskmanager.memory.jvm-overhead.min", "128m");
    c.put("taskmanager.memory.jvm-overhead.max", "128m");
    c.put("taskmanager.load-balance.mode", "SLOTS"); // spread a job's slots over the TaskManagers
    c.put("heartbeat.interval", "2000");
    c.put("heartbeat.timeout", "30000"); // a loaded 2-core machine; a dead TaskManager is noticed at its first failed heartbeat RPC
    // An application cluster copies the --jars it is given here and reuses a file of the same name
    // that is already there (Flink's default is the machine-wide /opt/flink/artifacts): a stale jar
    // from an earlier run would then be the one that runs. Each cluster gets its own.
    c.put("user.artifacts.base-dir", dir.resolve("artifacts").toString());
    c.putAll(settings);
    StringBuilder yaml = new StringBuilder();
    c.forEach((k, v) -> yaml.append(k).append(": ").append(v).append('\n'));
    Files.writeString(conf.resolve("config.yaml"), yaml.toString());
    Files.writeString(conf.resolve("log4j2.properties"), String.join("\n",
        "rootLogger.level = INFO", "rootLogger.appenderRef.out.ref = out", "appender.out.type = Console",
        "appender.out.name = out", "appender.out.layout.type = PatternLayout",
        "appender.out.layout.pattern = %d{HH:mm:ss.SSS} %-5p %c{1} - %m%n",
        "logger.kafka.name = org.apache.kafka", "logger.kafka.level = WARN", ""));
  }

  private List<String> jvmArgs() {
    return List.of("-Dlog4j2.configurationFile=" + conf.resolve("log4j2.properties"));
  }

  void startJobManager() throws Exception {
    jobManager = ChildJvm.start("jobmanager", dir, ChildJvm.flinkDistribution(), "512m", Map.of(), jvmArgs(),
        "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint", List.of("--configDir", conf.toString()));
  }

  /**
   * An application cluster instead of a session cluster, as docker's `standalone-job` and the
   * Kubernetes operator run one: the JobManager runs the job's main() itself, from the jar.
   */
  ChildJvm startApplicationJobManager(Path jar, String mainClass, List<String> args) throws Exception {
    // --jars takes every following word that is not one of its own options: it goes before --job-classname,
    // after which the job's own arguments follow
    List<String> entry = new ArrayList<>(List.of("--configDir", conf.toString(), "--jars", jar.toUri().toString(),
        "--job-classname", mainClass));
    entry.addAll(args);
    jobManager = ChildJvm.start("jobmanager", dir, ChildJvm.flinkDistribution(), "512m", Map.of(), jvmArgs(),
        "org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint", entry);
    return jobManager;
  }

  ChildJvm startTaskManager() throws Exception {
    ChildJvm tm = ChildJvm.start("taskmanager-" + (taskManagers.size() + 1), dir, ChildJvm.flinkDistribution(), "600m",
        Map.of(), jvmArgs(), "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
        List.of("--configDir", conf.toString()));
    taskManagers.add(tm);
    return tm;
  }

  /** Waits until {@code n} TaskManagers have registered with the JobManager. */
  void awaitTaskManagers(int n, Duration timeout) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      JsonNode o = rest("/overview");
      if (o != null && o.path("taskmanagers").asInt() >= n) {
        return;
      }
      Thread.sleep(500);
    }
    throw new AssertionError(n + " TaskManagers did not register within " + timeout + "\n" + jobManager.tail(40));
  }

  /** `flink run -d -p P JAR ARGS` through Flink's CLI in its own JVM; returns the CLI's output. */
  String submit(Path jar, int parallelism, List<String> args) throws Exception {
    return submit(List.of(), jar, parallelism, args);
  }

  /** `flink run -d -p P RUN_OPTIONS JAR ARGS` (e.g. -C URL -c CLASS: another main class on the job's classpath). */
  String submit(List<String> runOptions, Path jar, int parallelism, List<String> args) throws Exception {
    List<String> cli = new ArrayList<>(List.of("run", "-d", "-p", Integer.toString(parallelism)));
    cli.addAll(runOptions);
    cli.add(jar.toString());
    cli.addAll(args);
    ChildJvm c = ChildJvm.start("flink-cli", dir, ChildJvm.flinkDistribution(), "512m",
        Map.of("FLINK_CONF_DIR", conf.toString()), jvmArgs(), "org.apache.flink.client.cli.CliFrontend", cli);
    if (!c.process.waitFor(180, java.util.concurrent.TimeUnit.SECONDS) || c.process.exitValue() != 0) {
      throw new AssertionError("flink run failed:\n" + c.tail(60));
    }
    return c.logText();
  }

  /** GET a REST path of the JobManager; null when it does not answer (yet). */
  JsonNode rest(String path) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + restPort + path))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? JSON.readTree(r.body()) : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  String jobManagerLog() {
    return jobManager == null ? "" : jobManager.tail(80);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws Exception {
    for (ChildJvm tm : taskManagers) {
      tm.close();
    }
    if (jobManager != null) {
      jobManager.close();
    }
  }
}
