package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.lsntp.testing.TestPaths;
import ai.lsntp.config.ConfigLoader;
import ai.lsntp.config.LsntpConfig;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * docker-compose.yml, checked without a Docker engine: against the Compose schema (Debian's
 * docker-compose, where installed) and against what the build produces and the repository holds.
 */
class ComposeFileTest {
  static Path root;
  static Path file;
  static Map<String, Object> compose;
  static Map<String, Map<String, Object>> services;
  static BuildFacts build;

  @TempDir Path tmp;

  @BeforeAll
  @SuppressWarnings("unchecked")
  static void load() throws Exception {
    root = TestPaths.root();
    file = root.resolve("docker-compose.yml");
    assertThat(file).exists();
    compose = new Yaml().load(Files.readString(file)); // SnakeYAML resolves anchors and << merge keys
    services = (Map<String, Map<String, Object>>) compose.get("services");
    build = BuildFacts.read();
  }

  @SuppressWarnings("unchecked")
  static List<String> strings(Object o) {
    if (o == null) {
      return List.of();
    }
    if (o instanceof List<?> l) {
      List<String> out = new ArrayList<>();
      l.forEach(x -> out.add(String.valueOf(x)));
      return out;
    }
    return List.of(String.valueOf(o));
  }

  static String commandText(Map<String, Object> svc) {
    return String.join(" ", strings(svc.get("command")));
  }

  static int run(Path dir, String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    System.out.println(String.join(" ", cmd) + " -> " + p.exitValue() + "\n" + out);
    return p.exitValue();
  }

  static boolean onPath(String exe) {
    for (String d : System.getenv("PATH").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(d, exe))) {
        return true;
      }
    }
    return false;
  }

  @Test
  void validAgainstTheComposeSchemaAndAnUnknownKeyWouldFailIt() throws Exception {
    assumeTrue(onPath("docker-compose"), "docker-compose not installed (apt-get install docker-compose)");
    assertThat(run(root, "docker-compose", "-f", "docker-compose.yml", "config", "-q")).isZero();
    Path broken = tmp.resolve("docker-compose.yml");
    Files.writeString(broken, Files.readString(file).replace("    hostname: kafka\n", "    hostname: kafka\n    hostnam: typo\n"));
    assertThat(run(tmp, "docker-compose", "-f", "docker-compose.yml", "config", "-q")).isNotZero();
  }

  @Test
  void kafkaInKraftModeWithTheBuildsKafkaVersionAndTheJobsTopics() throws Exception {
    assertThat(services).containsKeys("kafka", "topics", "jobmanager", "taskmanager", "replay", "watch");
    Map<String, Object> kafka = services.get("kafka");
    assertThat(kafka.get("image")).isEqualTo("apache/kafka:" + build.kafkaVersion);
    @SuppressWarnings("unchecked")
    Map<String, Object> env = (Map<String, Object>) kafka.get("environment");
    assertThat(String.valueOf(env.get("KAFKA_PROCESS_ROLES"))).contains("broker").contains("controller");
    assertThat(Files.readString(file).toLowerCase()).doesNotContain("zookeeper");
    // transactions (exactly-once sinks) need the transaction log on a single broker
    assertThat(String.valueOf(env.get("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"))).isEqualTo("1");

    LsntpConfig defaults = new ConfigLoader().load();
    String topicsCmd = commandText(services.get("topics"));
    for (String t : defaults.topicNames()) {
      assertThat(topicsCmd).as("topic creation").contains(t);
    }
    assertThat(services.get("topics").get("image")).isEqualTo(kafka.get("image"));

    // every client connects to a listener the broker advertises
    String advertised = String.valueOf(env.get("KAFKA_ADVERTISED_LISTENERS"));
    for (String s : List.of("jobmanager", "replay", "watch")) {
      Matcher m = Pattern.compile("--bootstrap-servers\\s+(\\S+)").matcher(commandText(services.get(s)));
      assertThat(m.find()).as("%s names its bootstrap servers", s).isTrue();
      assertThat(advertised).as("%s's bootstrap", s).contains("//" + m.group(1));
    }
  }

  /** Prometheus scrapes both Flink processes on the reporter's port, loads the rules; Grafana gets the dashboard. */
  @Test
  @SuppressWarnings("unchecked")
  void prometheusScrapesTheFlinkReportersAndGrafanaShowsTheDashboard() throws Exception {
    assertThat(services).containsKeys("prometheus", "grafana");
    Map<String, Object> env = (Map<String, Object>) services.get("taskmanager").get("environment");
    String props = String.valueOf(env.get("FLINK_PROPERTIES"));
    assertThat(props).contains("metrics.reporter.prom.factory.class: org.apache.flink.metrics.prometheus.PrometheusReporterFactory");
    Matcher port = Pattern.compile("metrics.reporter.prom.port: (\\d+)").matcher(props);
    assertThat(port.find()).isTrue();
    Path root = file.getParent();
    Map<String, Object> prom = new Yaml().load(Files.readString(root.resolve("deploy/prometheus/prometheus.yml")));
    Map<String, Object> scrape = ((List<Map<String, Object>>) prom.get("scrape_configs")).get(0);
    Map<String, Object> sd = ((List<Map<String, Object>>) scrape.get("dns_sd_configs")).get(0);
    assertThat((List<String>) sd.get("names")).containsExactlyInAnyOrder("jobmanager", "taskmanager");
    assertThat(String.valueOf(sd.get("port"))).isEqualTo(port.group(1));
    // the rules and the dashboard are the committed files, mounted where the configs look for them
    assertThat(strings(services.get("prometheus").get("volumes"))).contains("./deploy/prometheus:/etc/prometheus:ro");
    assertThat((List<String>) prom.get("rule_files")).containsExactly("/etc/prometheus/lsntp-rules.yml");
    assertThat(strings(services.get("grafana").get("volumes")))
        .contains("./deploy/grafana/lsntp-dashboard.json:/var/lib/grafana/dashboards/lsntp-dashboard.json:ro");
    Map<String, Object> provider = new Yaml().load(Files.readString(root.resolve(
        "deploy/grafana/provisioning/dashboards/lsntp.yml")));
    assertThat(String.valueOf(((List<Map<String, Object>>) provider.get("providers")).get(0).get("options")))
        .contains("/var/lib/grafana/dashboards");
  }

  @Test
  void flinkRunsTheBuildsApplicationJarWithTheShippedModels() throws Exception {
    String image = "flink:" + build.flinkVersion + "-java17";
    for (String s : List.of("jobmanager", "taskmanager", "replay", "watch")) {
      assertThat(services.get(s).get("image")).as("%s image", s).isEqualTo(image);
      String jar = s.endsWith("manager") ? build.appJar() : build.toolsJar();
      assertThat(strings(services.get(s).get("volumes"))).as("%s mounts %s", s, jar)
          .anySatisfy(v -> assertThat(v).startsWith("./" + jar + ":/opt/"));
    }
    Map<String, Object> jm = services.get("jobmanager");
    List<String> cmd = strings(jm.get("command"));
    assertThat(cmd.get(0)).as("application mode").isEqualTo("standalone-job");
    assertThat(cmd.get(cmd.indexOf("--job-classname") + 1)).isEqualTo(build.mainClass);
    assertThat(build.source(build.mainClass)).exists();
    String modelsInContainer = cmd.get(cmd.indexOf("--models") + 1);
    for (String s : List.of("jobmanager", "taskmanager")) {
      assertThat(strings(services.get(s).get("volumes"))).contains("./models:" + modelsInContainer + ":ro");
      @SuppressWarnings("unchecked")
      Map<String, Object> env = (Map<String, Object>) services.get(s).get("environment");
      String props = String.valueOf(env.get("FLINK_PROPERTIES"));
      assertThat(props).contains("jobmanager.rpc.address: jobmanager")
          .contains("-Dorg.apache.avro.SERIALIZABLE_PACKAGES=ai.lsntp.avro")
          .contains("execution.checkpointing.dir:").contains("execution.checkpointing.savepoint-dir:")
          .contains("restart-strategy.type:");
      Map<String, Object> flinkConf = new Yaml().load(props);
      assertThat(flinkConf.keySet().stream().map(FlinkOptionKeys::problem).filter(java.util.Objects::nonNull))
          .as("FLINK_PROPERTIES keys of %s", s).isEmpty();
    }
    try (var models = Files.list(root.resolve("models"))) {
      assertThat(models.filter(d -> Files.exists(d.resolve("model.onnx")))).as("a shipped model to serve").isNotEmpty();
    }
    assertThat(strings(jm.get("ports"))).contains("8081:8081");
  }

  @Test
  void replayAndWatchRunTheToolsOnTheShippedFrames() throws Exception {
    for (String s : List.of("replay", "watch")) {
      String c = commandText(services.get(s));
      Matcher m = Pattern.compile("(ai\\.lsntp\\.tools\\.\\w+)").matcher(c);
      assertThat(m.find()).isTrue();
      Class<?> main = Class.forName(m.group(1));
      assertThat(main.getMethod("main", String[].class)).isNotNull();
      assertThat(Jars.entries(root.resolve(build.toolsJar()))).as("the tools jar holds %s", m.group(1))
          .contains(m.group(1).replace('.', '/') + ".class");
      assertThat(c).contains("/opt/lsntp/lsntp-tools.jar");
    }
    // the frames file replay names lies in the directory it mounts
    String replay = commandText(services.get("replay"));
    Matcher f = Pattern.compile("(/opt/lsntp/data/frames/\\S+\\.avro)").matcher(replay);
    assertThat(f.find()).isTrue();
    String mount = strings(services.get("replay").get("volumes")).stream().filter(v -> v.contains(":/opt/lsntp/data/frames"))
        .findFirst().orElseThrow();
    Path host = root.resolve(mount.substring(0, mount.indexOf(':')));
    assertThat(host.resolve(f.group(1).substring("/opt/lsntp/data/frames/".length()))).isRegularFile();
    // its options parse (a typo in the compose command would fail here, not on someone's laptop)
    String args = replay.substring(f.start());
    picocli.CommandLine.ParseResult parsed = new picocli.CommandLine(new ai.lsntp.tools.ReplayCommand())
        .parseArgs(args.split("\\s+"));
    assertThat(parsed.<Double>matchedOptionValue("--speed", null)).isEqualTo(3600.0);
  }

  @Test
  @SuppressWarnings("unchecked")
  void flinkCanWriteItsCheckpointsAndSavepoints() throws Exception {
    // Docker creates named volumes owned by root; Flink runs as uid 9999: a one-shot root service
    // must hand the state volume to uid 9999 before the JobManager and TaskManagers start
    Map<String, Object> init = services.get("state-init");
    assertThat(init).as("a service that chowns the state volume").isNotNull();
    assertThat(String.valueOf(init.get("user"))).isEqualTo("root");
    String chown = String.join(" ", strings(init.get("entrypoint"))) + " " + commandText(init);
    Matcher m = Pattern.compile("chown -R 9999:9999 (\\S+)").matcher(chown);
    assertThat(m.find()).as("chown -R 9999:9999 DIR in %s", chown).isTrue();
    String owned = m.group(1);
    for (String s : List.of("jobmanager", "taskmanager")) {
      Map<String, Object> env = (Map<String, Object>) services.get(s).get("environment");
      Map<String, Object> conf = new Yaml().load(String.valueOf(env.get("FLINK_PROPERTIES")));
      for (String k : List.of("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir")) {
        assertThat(String.valueOf(conf.get(k))).as("%s of %s", k, s).startsWith("file://" + owned + "/");
      }
      assertThat(strings(services.get(s).get("volumes"))).as("%s mounts the chowned volume", s)
          .anySatisfy(v -> assertThat(v).endsWith(":" + owned));
      Map<String, Object> deps = (Map<String, Object>) services.get(s).get("depends_on");
      assertThat(deps).as("%s waits for state-init", s).containsKey("state-init");
      assertThat(String.valueOf(((Map<String, Object>) deps.get("state-init")).get("condition")))
          .isEqualTo("service_completed_successfully");
    }
    assertThat(strings(init.get("volumes"))).anySatisfy(v -> assertThat(v).endsWith(":" + owned));
  }

  @Test
  @SuppressWarnings("unchecked")
  void bindMountsExistPortsAreUniqueVolumesAreDeclared() throws Exception {
    Set<String> hostPorts = new HashSet<>();
    Set<String> named = ((Map<String, Object>) compose.get("volumes")).keySet();
    for (Map.Entry<String, Map<String, Object>> e : services.entrySet()) {
      for (String p : strings(e.getValue().get("ports"))) {
        assertThat(hostPorts.add(p.split(":")[0])).as("host port %s used once", p).isTrue();
      }
      for (String v : strings(e.getValue().get("volumes"))) {
        String src = v.split(":")[0];
        if (src.startsWith("./")) {
          if (!src.startsWith("./flink-job/target/") && !src.startsWith("./tools/target/")) {
            assertThat(root.resolve(src)).as("bind mount of %s", e.getKey()).exists();
          }
        } else {
          assertThat(named).as("named volume of %s", e.getKey()).contains(src);
        }
      }
    }
  }
}
