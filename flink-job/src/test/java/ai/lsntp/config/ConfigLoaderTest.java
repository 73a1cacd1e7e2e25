package ai.lsntp.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.lsntp.alerts.AlertRule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

  @Test
  void defaultsLoadAndValidate() {
    LsntpConfig c = new ConfigLoader().load();
    assertThat(c.kafka.bootstrapServers).isEqualTo("127.0.0.1:9092");
    for (Topic t : Topic.values()) {
      assertThat(t.in(c)).as(t.key()).isEqualTo(t.defaultName());
    }
    assertThat(c.topicNames()).containsExactly(Topic.namesUnder(Topic.DEFAULT_PREFIX));
    assertThat(c.exactlyOnce()).isTrue();
    assertThat(c.allowedLateness()).isEqualTo(Duration.ofHours(1));
    assertThat(c.batching.maxWindows).isEqualTo(16);
    assertThat(c.batchMaxDelay()).isEqualTo(Duration.ofMillis(20));
    assertThat(c.alerts).extracting(r -> r.kind)
        .containsExactly(AlertRule.Kind.heat, AlertRule.Kind.frost, AlertRule.Kind.change);
  }

  @Test
  void fileThenCommandLineOverrides(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("site.yaml");
    Files.writeString(f, "kafka:\n  bootstrap-servers: broker-a:9093\n  properties:\n    security.protocol: SASL_SSL\n"
        + "batching:\n  max-windows: 32\n");
    LsntpConfig c = new ConfigLoader().file(f)
        .set("batching.max-windows", "8")
        .kafkaProperty("sasl.mechanism", "PLAIN")
        .set("kafka.properties.ssl.truststore.location", "/etc/ts.jks")
        .set("alerts", "[{name: warm, kind: heat, threshold: 300}]")
        .load();
    assertThat(c.kafka.bootstrapServers).isEqualTo("broker-a:9093");
    assertThat(c.batching.maxWindows).isEqualTo(8);
    assertThat(c.kafkaProperties())
        .containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("sasl.mechanism", "PLAIN")
        .containsEntry("ssl.truststore.location", "/etc/ts.jks")
        .containsEntry("bootstrap.servers", "broker-a:9093");
    assertThat(c.alerts).hasSize(1);
    assertThat(c.alerts.get(0).threshold).isEqualTo(300.0);
  }

  @Test
  void aWrongSettingStopsStartUpNamingIt() {
    assertThatThrownBy(() -> new ConfigLoader().set("delivery.guarantee", "maybe-once").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("delivery.guarantee");
    assertThatThrownBy(() -> new ConfigLoader().set("stream.allowed-lateness", "soon").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("stream.allowed-lateness");
    assertThatThrownBy(() -> new ConfigLoader().set("batching.max-windows", "0").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("batching.max-windows");
    assertThatThrownBy(() -> new ConfigLoader().set("batching.max-windows", "many").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("batching.max-windows");
    assertThatThrownBy(() -> new ConfigLoader().set("models.provider", "tpu").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("models.provider");
    assertThatThrownBy(() -> new ConfigLoader().set("stream.max-lateness", "1h").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("stream.max-lateness").hasMessageContaining("unknown");
    assertThatThrownBy(() -> new ConfigLoader().set("alerts", "[{name: hot, kind: heat, threshold: 30}]").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("alerts[0].threshold");
    assertThatThrownBy(() -> new ConfigLoader().set("alerts", "[{name: jump, kind: change, threshold: 5}]").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("alerts[0].within");
  }

  @Test
  void probabilityRulesAndIntervalLevelsAreCheckedWithTheReason() {
    LsntpConfig c = new ConfigLoader()
        .set("alerts", "[{name: frost-likely, kind: frost, threshold: 273.15, probability: 0.8}]").load();
    assertThat(c.alerts.get(0).probability).isEqualTo(0.8);
    assertThat(c.intervalLevels()).containsExactly(0.8, 0.95);
    assertThatThrownBy(() -> new ConfigLoader()
        .set("alerts", "[{name: f, kind: frost, threshold: 273.15, probability: 80}]").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("alerts[0].probability")
        .hasMessageContaining("strictly between 0 and 1");
    assertThatThrownBy(() -> new ConfigLoader()
        .set("alerts", "[{name: j, kind: change, threshold: 5, within: 1h, probability: 0.5}]").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("only heat and frost rules take a probability");
    assertThatThrownBy(() -> new ConfigLoader().set("intervals.levels", "[]")
        .set("alerts", "[{name: f, kind: frost, threshold: 273.15, probability: 0.8}]").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("intervals.levels is empty");
    assertThatThrownBy(() -> new ConfigLoader().set("intervals.levels", "[0.95, 0.8]").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("intervals.levels: must increase");
    assertThatThrownBy(() -> new ConfigLoader().set("intervals.levels", "[80]").load())
        .isInstanceOf(ConfigException.class).hasMessageContaining("0.8 is the 80% interval");
    assertThat(new ConfigLoader().set("intervals.levels", "[]").load().intervalLevels()).isEmpty();
    AlertRule r = AlertRule.parse("name=frost-likely,kind=frost,threshold=273.15,probability=0.8");
    assertThat(r.probability).isEqualTo(0.8);
    assertThatThrownBy(() -> AlertRule.parse("kind=frost,threshold=273.15,probability=most"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("probability 'most' is not a number");
  }

  @Test
  void alertRuleCommandLineForm() {
    AlertRule r = AlertRule.parse("name=jump,kind=change,threshold=6,within=3h,grid=era5-uk-0p25");
    assertThat(r.kind).isEqualTo(AlertRule.Kind.change);
    assertThat(r.withinMillis()).isEqualTo(3 * 3_600_000L);
    assertThat(r.appliesTo("era5-uk-0p25")).isTrue();
    assertThat(r.appliesTo("ncep-na")).isFalse();
    assertThatThrownBy(() -> AlertRule.parse("kind=boiling,threshold=1"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("kind");
  }

  @Test
  void kafkaCredentialsComeFromTheEnvironmentNotTheCommandLine() {
    LsntpConfig c = new ConfigLoader()
        .environment(java.util.Map.of("LSNTP_KAFKA_SASL_JAAS_CONFIG", "org.example.Login required;",
            "LSNTP_KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "HOME", "/root", "LSNTP_KAFKA_", "ignored"))
        .load();
    assertThat(c.kafkaProperties()).containsEntry("sasl.jaas.config", "org.example.Login required;")
        .containsEntry("security.protocol", "SASL_SSL").hasSize(3); // and bootstrap.servers
    assertThat(ConfigLoader.isSecret("sasl.jaas.config")).isTrue();
    assertThat(ConfigLoader.isSecret("ssl.keystore.password")).isTrue();
    assertThat(ConfigLoader.isSecret("security.protocol")).isFalse();
  }

  @Test
  void aConfigFileWithCredentialsThatOthersCanReadIsRefused(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("kafka.yaml");
    Files.writeString(f, "kafka:\n  properties:\n    sasl.jaas.config: 'x required password=\"p\";'\n");
    Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----"));
    assertThatThrownBy(() -> new ConfigLoader().file(f)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("holds Kafka credentials (kafka.properties.sasl.jaas.config)")
        .hasMessageContaining("chmod 600 " + f).hasMessageNotContaining("password=");
    Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    assertThat(new ConfigLoader().file(f).load().kafkaProperties()).containsKey("sasl.jaas.config");
  }

  @Test
  void tf32IsOffUnlessAskedForAndOnlyMeansSomethingOnCuda() {
    assertThat(new ConfigLoader().load().provider()).isEqualTo(ai.lsntp.model.Provider.CPU);
    LsntpConfig cuda = new ConfigLoader().set("models.provider", "cuda").load();
    assertThat(cuda.provider().cuda()).isTrue();
    assertThat(cuda.provider().tf32()).as("TF32 off by default").isFalse();
    assertThat(new ConfigLoader().set("models.provider", "cuda").set("models.cuda-tf32", "true").load().provider().tf32())
        .isTrue();
    assertThat(new ConfigLoader().set("models.cuda-tf32", "true").load().provider())
        .as("no TF32 on the CPU").isEqualTo(ai.lsntp.model.Provider.CPU);
  }
}
