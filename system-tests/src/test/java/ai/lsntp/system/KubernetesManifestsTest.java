package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.TestPaths;
import ai.lsntp.config.ConfigLoader;
import ai.lsntp.config.LsntpConfig;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * deploy/: both kustomize overlays rendered offline with kubectl and checked as the operators and
 * the API server would take them (the served CRD schemas in deploy/crds), against what the build
 * produces (jar, main class, Flink version and its configuration keys, gpu profile), and against
 * the job's own configuration loader.
 */
class KubernetesManifestsTest {
  static Path root;
  static BuildFacts build;
  static CrdSchemas crds;

  @TempDir Path tmp;

  @BeforeAll
  static void load() throws Exception {
    root = TestPaths.root();
    build = BuildFacts.read();
    crds = new CrdSchemas(root.resolve("deploy/crds"));
  }

  static String kubectl() {
    for (String d : System.getenv("PATH").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(d, "kubectl"))) {
        return Path.of(d, "kubectl").toString();
      }
    }
    throw new AssertionError("kubectl is needed to render deploy/overlays (kubectl kustomize)");
  }

  /** kubectl kustomize DIR, as a list of documents. */
  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> render(Path dir) throws Exception {
    Process p = new ProcessBuilder(kubectl(), "kustomize", dir.toString()).redirectErrorStream(false).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("kubectl kustomize %s: %s", dir, err).isZero();
    List<Map<String, Object>> docs = new ArrayList<>();
    for (Object o : new Yaml().loadAll(out)) {
      docs.add((Map<String, Object>) o);
    }
    return docs;
  }

  static List<Map<String, Object>> ofKind(List<Map<String, Object>> docs, String kind) {
    return docs.stream().filter(d -> kind.equals(d.get("kind"))).toList();
  }

  @SuppressWarnings("unchecked")
  static <T> T at(Object node, String... path) {
    Object o = node;
    for (String k : path) {
      if (o instanceof Map<?, ?> m) {
        o = m.get(k);
      } else if (o instanceof List<?> l) {
        o = l.get(Integer.parseInt(k));
      } else {
        throw new AssertionError("no " + String.join(".", path) + " (stopped at " + k + ")");
      }
      if (o == null) {
        throw new AssertionError("no " + String.join(".", path) + " (missing " + k + ")");
      }
    }
    return (T) o;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> container(Map<String, Object> podTemplate) {
    List<Map<String, Object>> cs = at(podTemplate, "spec", "containers");
    return cs.stream().filter(c -> "flink-main-container".equals(c.get("name"))).findFirst()
        .orElseThrow(() -> new AssertionError("no flink-main-container in the pod template"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"cpu", "gpu"})
  @SuppressWarnings("unchecked")
  void overlayRendersAFlinkDeploymentThatRunsTheBuildsJarFromASavepointWithTheModelVolume(String variant) throws Exception {
    List<Map<String, Object>> docs = render(root.resolve("deploy/overlays/" + variant));
    List<Map<String, Object>> fds = ofKind(docs, "FlinkDeployment");
    assertThat(fds).hasSize(1);
    Map<String, Object> fd = fds.get(0);
    assertThat(fd.get("apiVersion")).isEqualTo("flink.apache.org/v1beta1");
    assertThat(at(fd, "metadata", "namespace").toString()).isEqualTo("lsntp");
    Map<String, Object> spec = at(fd, "spec");
    Map<String, Object> job = at(spec, "job");
    assertThat(job.get("upgradeMode")).isEqualTo("savepoint");
    assertThat(job.get("entryClass")).isEqualTo(build.mainClass);
    assertThat(build.source(build.mainClass)).exists();

    // the image's Dockerfile puts the build's application jar where jarURI points, on the build's Flink version
    String dockerfile = Files.readString(root.resolve("deploy/docker/" + (variant.equals("gpu") ? "Dockerfile.gpu" : "Dockerfile")));
    String jarInImage = job.get("jarURI").toString().replaceFirst("^local://", "");
    assertThat(dockerfile).containsPattern("COPY (--chown=flink:flink )?" + Pattern.quote(build.appJar() + " " + jarInImage));
    assertThat(dockerfile).contains("FROM flink:" + build.flinkVersion + "-java17");
    assertThat(dockerfile).contains("-t " + spec.get("image"));

    // durable checkpoints, savepoints and HA metadata (not a pod's local disk), under keys Flink 2.3 reads
    Map<String, Object> conf = at(spec, "flinkConfiguration");
    for (String k : List.of("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir",
        "high-availability.storageDir")) {
      assertThat(String.valueOf(conf.get(k))).as(k).matches("(s3|s3a|s3p|gs|hdfs|abfss?|oss)://.+");
    }
    assertThat(conf.keySet().stream().map(FlinkOptionKeys::problem).filter(java.util.Objects::nonNull))
        .as("flinkConfiguration keys").isEmpty();
    // one source of truth: the deployment's parallelism and restart strategy (the job sets neither)
    assertThat(conf).doesNotContainKey("parallelism.default");
    assertThat(job.get("parallelism")).isInstanceOf(Integer.class);
    assertThat(conf).containsKey("restart-strategy.type");
    assertThat(String.valueOf(conf.get("env.java.opts.all"))).contains("-Dorg.apache.avro.SERIALIZABLE_PACKAGES=ai.lsntp.avro");
    assertThat(String.valueOf(conf.get("execution.checkpointing.externalized-checkpoint-retention"))).isEqualTo("RETAIN_ON_CANCELLATION");

    // the job's configuration: the ConfigMap the pod mounts, loaded by the job's own loader, plus the args
    List<String> args = at(job, "args");
    Map<String, Object> pod = at(spec, "podTemplate");
    Map<String, Object> main = container(pod);
    String configPath = args.get(args.indexOf("--config") + 1);
    List<Map<String, Object>> mounts = at(main, "volumeMounts");
    Map<String, Object> configMount = mounts.stream().filter(m -> configPath.startsWith(m.get("mountPath") + "/"))
        .findFirst().orElseThrow(() -> new AssertionError("nothing mounted at " + configPath));
    List<Map<String, Object>> volumes = at(pod, "spec", "volumes");
    Map<String, Object> configVolume = volumes.stream().filter(v -> v.get("name").equals(configMount.get("name"))).findFirst().orElseThrow();
    String cmName = at(configVolume, "configMap", "name");
    Map<String, Object> cm = ofKind(docs, "ConfigMap").stream().filter(c -> cmName.equals(at(c, "metadata", "name"))).findFirst()
        .orElseThrow(() -> new AssertionError("ConfigMap " + cmName + " is not rendered"));
    Path yaml = tmp.resolve("lsntp.yaml");
    Files.writeString(yaml, at(cm, "data", Path.of(configPath).getFileName().toString()).toString());
    Map<String, Object> jobSection = new Yaml().<Map<String, Object>>load(Files.readString(yaml)).getOrDefault("job", Map.of()) instanceof Map<?, ?> m
        ? (Map<String, Object>) m : Map.of();
    assertThat(jobSection).as("lsntp.yaml leaves parallelism and restarts to the FlinkDeployment")
        .doesNotContainKeys("parallelism", "restart-attempts", "restart-delay");
    ConfigLoader loader = new ConfigLoader().file(yaml);
    String provider = args.get(args.indexOf("--provider") + 1);
    loader.set("models.provider", provider);
    LsntpConfig cfg = loader.load(); // validates every setting
    assertThat(provider).isEqualTo(variant.equals("gpu") ? "cuda" : "cpu");

    // the model directory of the configuration is the mounted PVC
    Map<String, Object> modelMount = mounts.stream().filter(m -> cfg.models.directory.equals(m.get("mountPath"))).findFirst()
        .orElseThrow(() -> new AssertionError("models.directory " + cfg.models.directory + " is not mounted"));
    Map<String, Object> modelVolume = volumes.stream().filter(v -> v.get("name").equals(modelMount.get("name"))).findFirst().orElseThrow();
    String claim = at(modelVolume, "persistentVolumeClaim", "claimName");
    assertThat(ofKind(docs, "PersistentVolumeClaim")).anySatisfy(p -> assertThat(at(p, "metadata", "name").toString()).isEqualTo(claim));
    assertThat(ofKind(docs, "ServiceAccount")).anySatisfy(
        s -> assertThat(at(s, "metadata", "name").toString()).isEqualTo(spec.get("serviceAccount")));

    // Strimzi topics: the configuration's names, on the cluster and in the namespace the bootstrap address
    // names (Strimzi's topic operator watches only its cluster's namespace), enough partitions
    List<Map<String, Object>> topics = ofKind(docs, "KafkaTopic");
    Map<String, Map<String, Object>> byName = new HashMap<>();
    topics.forEach(t -> byName.put(at(t, "spec", "topicName"), t));
    assertThat(byName.keySet()).containsExactlyInAnyOrderElementsOf(cfg.topicNames());
    Matcher cluster = Pattern.compile("^([a-z0-9-]+)-kafka-bootstrap\\.([a-z0-9-]+)\\.svc").matcher(cfg.kafka.bootstrapServers);
    assertThat(cluster.find()).as("bootstrap %s is a Strimzi bootstrap service <cluster>-kafka-bootstrap.<namespace>.svc",
        cfg.kafka.bootstrapServers).isTrue();
    int parallelism = ((Number) job.get("parallelism")).intValue();
    for (Map<String, Object> t : topics) {
      assertThat(at(t, "metadata", "labels", "strimzi.io/cluster").toString()).isEqualTo(cluster.group(1));
      assertThat(at(t, "metadata", "namespace").toString()).as("namespace of topic %s", at(t, "spec", "topicName").toString())
          .isEqualTo(cluster.group(2));
      int replicas = ((Number) at(t, "spec", "replicas")).intValue();
      int minIsr = Integer.parseInt(at(t, "spec", "config", "min.insync.replicas").toString());
      assertThat(minIsr).as("min.insync.replicas below replicas: writes go on with a broker down").isLessThan(replicas);
    }
    assertThat(((Number) at(byName.get(cfg.topics.frames), "spec", "partitions")).intValue())
        .as("frames partitions >= job parallelism (partitions are the unit of scale)").isGreaterThanOrEqualTo(parallelism);
    assertThat(Long.parseLong(at(byName.get(cfg.topics.frames), "spec", "config", "max.message.bytes").toString()))
        .isGreaterThan(cfg.stream.maxFrameBytes);

    // GPU: the gpu build's image, a GPU per TaskManager; CPU: no GPU requested anywhere
    String rendered = new Yaml().dumpAll(docs.iterator());
    if (variant.equals("gpu")) {
      Map<String, Object> tmMain = container(at(spec, "taskManager", "podTemplate"));
      assertThat(((Number) at(tmMain, "resources", "limits", "nvidia.com/gpu")).intValue()).isGreaterThanOrEqualTo(1);
      assertThat(spec.get("image").toString()).contains("gpu");
      assertThat(dockerfile).contains("mvn -B -q -Pgpu").contains("FROM nvidia/cuda:12.").contains("cudnn")
          .contains("libcublasLt.so.12").contains("libcudnn.so.9").containsPattern("(?m)^USER flink$");
      assertThat(build.gpuOnnxArtifact).as("the pom's gpu profile").isEqualTo("onnxruntime_gpu");
      assertThat(String.valueOf(conf.get("kubernetes.operator.pod-template.merge-arrays-by-name"))).isEqualTo("true");
    } else {
      assertThat(rendered).doesNotContain("nvidia.com/gpu");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"cpu", "gpu"})
  void everyCustomResourceIsServedAndValidAgainstTheOperatorsCrd(String variant) throws Exception {
    List<Map<String, Object>> custom = render(root.resolve("deploy/overlays/" + variant)).stream()
        .filter(crds::knows).toList();
    assertThat(custom).extracting(d -> d.get("kind")).contains("FlinkDeployment", "KafkaTopic");
    for (Map<String, Object> d : custom) {
      assertThat(crds.problems(d)).as("%s %s", d.get("kind"), d.get("apiVersion")).isEmpty();
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void theCrdCheckCatchesTheRegressionsItIsThereFor() throws Exception {
    List<Map<String, Object>> docs = render(root.resolve("deploy/overlays/cpu"));
    Map<String, Object> topic = new java.util.LinkedHashMap<>(ofKind(docs, "KafkaTopic").get(0));
    topic.put("apiVersion", "kafka.strimzi.io/v1beta2");
    assertThat(crds.problems(topic)).singleElement().asString().contains("serves only [v1]");

    Map<String, Object> fd = ofKind(docs, "FlinkDeployment").get(0);
    Map<String, Object> spec = new java.util.LinkedHashMap<>((Map<String, Object>) fd.get("spec"));
    spec.put("flinkVersion", "v2_9");
    spec.put("jobb", Map.of());
    Map<String, Object> broken = new java.util.LinkedHashMap<>(fd);
    broken.put("spec", spec);
    assertThat(crds.problems(broken)).anySatisfy(p -> assertThat(p).contains("flinkVersion"))
        .anySatisfy(p -> assertThat(p).contains("jobb"));
    assertThat(FlinkOptionKeys.problem("state.checkpoints.dir")).contains("deprecated");
    assertThat(FlinkOptionKeys.problem("restart-strategy.typo")).contains("not a Flink 2.3 configuration key");
  }

  /**
   * Prometheus finds the metrics: the PodMonitor selects the pods the Flink operator labels with
   * the deployment's name, and scrapes the container port named as the reporter's port.
   */
  @ParameterizedTest
  @ValueSource(strings = {"cpu", "gpu"})
  @SuppressWarnings("unchecked")
  void thePodMonitorScrapesTheReportersPortOnTheForecastersPods(String variant) throws Exception {
    List<Map<String, Object>> docs = render(root.resolve("deploy/overlays/" + variant));
    Map<String, Object> fd = ofKind(docs, "FlinkDeployment").get(0);
    Map<String, Object> conf = at(fd, "spec", "flinkConfiguration");
    assertThat(conf.get("metrics.reporter.prom.factory.class"))
        .isEqualTo("org.apache.flink.metrics.prometheus.PrometheusReporterFactory");
    int port = Integer.parseInt(String.valueOf(conf.get("metrics.reporter.prom.port")));
    List<Map<String, Object>> ports = at(container(at(fd, "spec", "podTemplate")), "ports");
    Map<String, Object> metrics = ports.stream().filter(p -> "metrics".equals(p.get("name"))).findFirst()
        .orElseThrow(() -> new AssertionError("no container port named metrics"));
    assertThat(metrics.get("containerPort")).isEqualTo(port);
    List<Map<String, Object>> monitors = ofKind(docs, "PodMonitor");
    assertThat(monitors).hasSize(1);
    Map<String, Object> monitor = monitors.get(0);
    assertThat(at(monitor, "metadata", "namespace").toString()).isEqualTo(at(fd, "metadata", "namespace").toString());
    Map<String, Object> labels = at(monitor, "spec", "selector", "matchLabels");
    assertThat(labels).containsExactly(Map.entry("app", at(fd, "metadata", "name")));
    assertThat(at(monitor, "spec", "podMetricsEndpoints", "0", "port").toString()).isEqualTo("metrics");
  }

  @Test
  void readmeExplainsScalingUpgradeAndSizing() throws Exception {
    String readme = Files.readString(root.resolve("deploy/README.md"));
    assertThat(readme).contains("kubectl kustomize deploy/overlays/cpu").contains("kubectl kustomize deploy/overlays/gpu")
        .contains("savepoint").contains("partitions").contains("task slots").contains("Sizing").contains("lsntp-s3")
        .contains("-Pgpu");
  }
}
