package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.cli.Lsntp;
import ai.lsntp.config.ConfigLoader;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.testing.Cli;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestPaths;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secured Kafka as sites run it: a broker that admits only SCRAM-SHA-512 logins and authorizes with
 * ACLs. With the right credentials (from a file only its owner can read) the job, replay and watch
 * work and print no password; a wrong password, missing credentials and a principal without the
 * ACLs each end in one line naming authentication or authorization, within seconds.
 */
class SecuredKafkaTest {
  /** The job's principal; replay and watch log in as their own, each with the documented ACLs only. */
  static final String USER = "job";
  static final String PASSWORD = "lsntp-pw-7c1e";
  static final String REPLAY = "replay";
  static final String REPLAY_PASSWORD = "replay-pw-51d";
  static final String WATCH = "watch";
  static final String WATCH_PASSWORD = "watch-pw-0a4";
  static final String READER = "reader";
  static final String READER_PASSWORD = "reader-pw-93b";
  static final String PREFIX = "sec";
  static ScramKafkaBroker broker;
  static Path dir;

  @TempDir static Path tmp;

  @BeforeAll
  static void start() throws Exception {
    dir = tmp;
    broker = ScramKafkaBroker.start(dir.resolve("broker"), Map.of(USER, PASSWORD, REPLAY, REPLAY_PASSWORD, WATCH,
        WATCH_PASSWORD, READER, READER_PASSWORD));
    try (Admin admin = Admin.create(broker.login(ScramKafkaBroker.ADMIN, ScramKafkaBroker.ADMIN_PASSWORD))) {
      List<NewTopic> topics = new ArrayList<>();
      for (String t : Topic.namesUnder(PREFIX)) {
        topics.add(new NewTopic(t, 1, (short) 1));
      }
      admin.createTopics(topics).all().get(60, TimeUnit.SECONDS);
      List<AclBinding> acls = new ArrayList<>(documentedAcls());
      acls.add(allow(READER, ResourceType.TOPIC, Topic.FORECASTS.under(PREFIX), PatternType.LITERAL, AclOperation.READ));
      acls.add(allow(READER, ResourceType.GROUP, "lsntp-", PatternType.PREFIXED, AclOperation.READ));
      admin.createAcls(acls)
          .all().get(60, TimeUnit.SECONDS);
    }
  }

  @AfterAll
  static void stop() throws Exception {
    broker.close();
  }

  /**
   * The ACL table of deploy/OPERATIONS.md ("Secured Kafka"), row by row, for the names this test's
   * configuration gives the keys: the documentation is what the job is run under.
   */
  static List<AclBinding> documentedAcls() throws Exception {
    String doc = Files.readString(TestPaths.root().resolve("deploy/OPERATIONS.md"));
    int from = doc.indexOf("<!-- acls: read by SecuredKafkaTest -->");
    int to = doc.indexOf("<!-- end of acls -->");
    assertThat(from).as("the ACL table in deploy/OPERATIONS.md").isPositive();
    LsntpConfig cfg = new ConfigLoader().overrides(Topic.settingsUnder(PREFIX)).set("kafka.bootstrap-servers", "x:1")
        .set("kafka.group-id", PREFIX).load();
    Map<String, String> principals = Map.of("job", USER, "replay", REPLAY, "watch", WATCH);
    List<AclBinding> out = new ArrayList<>();
    for (String line : doc.substring(from, to).split("\n")) {
      String[] c = line.split("\\|");
      if (c.length < 6 || !principals.containsKey(c[1].trim())) {
        continue;
      }
      String name = c[3].trim();
      if (name.startsWith("`")) {
        String key = name.replace("`", "");
        name = key.equals("kafka.group-id") ? cfg.kafka.groupId
            : key.equals("delivery.transactional-id-prefix") ? cfg.delivery.transactionalIdPrefix
            : java.util.Arrays.stream(Topic.values()).filter(t -> t.key().equals(key)).findFirst()
                .orElseThrow(() -> new AssertionError("no topic key " + key)).in(cfg);
      }
      ResourceType type = ResourceType.fromString(c[2].trim().replace("-", "_").toUpperCase());
      PatternType pattern = PatternType.fromString(c[4].trim().toUpperCase());
      for (String op : c[5].split(",")) {
        out.add(allow(principals.get(c[1].trim()), type, name, pattern, AclOperation.fromString(op.trim().toUpperCase())));
      }
    }
    assertThat(out).as("rows of the ACL table").hasSizeGreaterThan(10);
    assertThat(out).allSatisfy(b -> assertThat(b.pattern().resourceType()).isNotEqualTo(ResourceType.UNKNOWN));
    return out;
  }

  static AclBinding allow(String user, ResourceType type, String name, PatternType pattern, AclOperation op) {
    return new AclBinding(new ResourcePattern(type, name, pattern),
        new AccessControlEntry("User:" + user, "*", op, AclPermissionType.ALLOW));
  }

  /** A --config file for the job and the tools; mode 600 unless {@code mode} says otherwise. */
  static Path config(String name, String user, String password, String mode) throws Exception {
    StringBuilder y = new StringBuilder();
    y.append("kafka:\n  bootstrap-servers: ").append(broker.bootstrap()).append('\n');
    y.append("  group-id: ").append(PREFIX).append('\n');
    y.append("  connect-timeout: 6s\n");
    if (user != null) {
      y.append("  properties:\n    security.protocol: SASL_PLAINTEXT\n    sasl.mechanism: SCRAM-SHA-512\n");
      y.append("    sasl.jaas.config: '").append(ScramKafkaBroker.jaas(user, password)).append("'\n");
    }
    y.append("topics:\n");
    for (Topic t : Topic.values()) {
      y.append("  ").append(t.sectionKey()).append(": ").append(t.under(PREFIX)).append('\n');
    }
    y.append("models: {directory: ").append(TestPaths.models()).append("}\n");
    y.append("stream: {future-tolerance: 3650d}\n");
    y.append("checkpoints: {directory: ").append(dir.resolve("checkpoints-" + name)).append("}\n");
    Path f = dir.resolve(name + ".yaml");
    Files.writeString(f, y.toString());
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
    return f;
  }

  static Cli lsntp(String... args) {
    return Cli.run(Lsntp.commandLine(), args);
  }

  static String frames() {
    return TestPaths.ukFrames().toString();
  }

  @Test
  void theJobReplayAndWatchWorkWithTheRightCredentialsAndPrintNoPassword() throws Exception {
    Path cfgFile = config("right", USER, PASSWORD, "rw-------");
    Path replayFile = config("replay", REPLAY, REPLAY_PASSWORD, "rw-------");
    Path watchFile = config("watch", WATCH, WATCH_PASSWORD, "rw-------");
    ModelSpec uk = ModelCatalog.load(TestPaths.models()).forGrid(RealFrames.uk(1).get(0).getGridId());
    int n = uk.alpha + 3;
    Cli replay = lsntp("replay", frames(), "--config", replayFile.toString(), "--limit", Integer.toString(n), "--progress", "none");
    assertThat(replay.exit).as(replay.toString()).isZero();
    assertThat(replay.out).contains(n + " frames sent to sec.frames, " + n + " acknowledged, 0 failed");
    assertThat(new ConfigLoader().file(cfgFile).load().delivery.guarantee).as("the job runs transactions")
        .isEqualTo("exactly-once");

    LsntpConfig cfg = new ConfigLoader().file(cfgFile).set("delivery.checkpoint-interval", "1s").load();
    ForecastJob.fromKafka(cfg, true).execute(ForecastJob.localEnvironment(cfg));

    int expected = n - uk.alpha + 1;
    Cli watch = lsntp("watch", "--config", watchFile.toString(), "--from-beginning", "--max-records",
        Integer.toString(expected), "--no-alerts", "--idle-timeout", "30s");
    assertThat(watch.exit).as(watch.toString()).isZero();
    assertThat(watch.out.lines().filter(l -> l.startsWith("FORECAST sec") || l.startsWith("FORECAST " + uk.gridId)))
        .hasSize(expected);
    for (Cli c : List.of(replay, watch)) {
      assertThat(c.out + c.err).doesNotContain(PASSWORD).doesNotContain(REPLAY_PASSWORD).doesNotContain(WATCH_PASSWORD);
    }
  }

  @Test
  void aWrongPasswordIsNamedInOneLineWithinSeconds() throws Exception {
    Path wrong = config("wrong", USER, "not-the-password", "rw-------");
    for (String[] args : List.of(
        new String[] {"replay", frames(), "--config", wrong.toString(), "--limit", "1"},
        new String[] {"watch", "--config", wrong.toString(), "--max-records", "1"},
        new String[] {"job", "--config", wrong.toString()})) {
      long t0 = System.nanoTime();
      Cli c = lsntp(args);
      double secs = (System.nanoTime() - t0) / 1e9;
      assertThat(c.exit).as(c.toString()).isEqualTo(1);
      assertThat(c.err.strip().lines().filter(l -> l.startsWith("lsntp "))).as(c.toString()).singleElement().asString()
          .contains("error: Kafka at " + broker.bootstrap() + " refused the login (authentication failed, SASL SCRAM-SHA-512)");
      assertThat(c.err).doesNotContain("Exception\n\tat ").doesNotContain("not-the-password");
      assertThat(secs).as("%s answered within seconds", args[0]).isLessThan(15);
    }
  }

  @Test
  void missingCredentialsAreNamedInOneLineWithinSeconds() throws Exception {
    Path none = config("none", null, null, "rw-r--r--");
    for (String[] args : List.of(
        new String[] {"replay", frames(), "--config", none.toString(), "--limit", "1"},
        new String[] {"watch", "--config", none.toString(), "--max-records", "1"},
        new String[] {"job", "--config", none.toString()})) {
      long t0 = System.nanoTime();
      Cli c = lsntp(args);
      double secs = (System.nanoTime() - t0) / 1e9;
      assertThat(c.exit).as(c.toString()).isEqualTo(1);
      assertThat(c.err).contains("accepts connections but did not answer this client (security.protocol=PLAINTEXT)")
          .contains("requires authentication (SASL) or TLS");
      assertThat(secs).as("%s answered within seconds", args[0]).isLessThan(25);
    }
  }

  @Test
  void aPrincipalWithoutTheAclsIsToldItIsNotAuthorized() throws Exception {
    Path reader = config("reader", READER, READER_PASSWORD, "rw-------");
    Cli c = lsntp("replay", frames(), "--config", reader.toString(), "--limit", "1");
    assertThat(c.exit).as(c.toString()).isEqualTo(1);
    assertThat(c.err).contains("says this principal is not authorized (TopicAuthorizationException)");
    Cli job = lsntp("job", "--config", reader.toString());
    assertThat(job.exit).as(job.toString()).isEqualTo(1);
    assertThat(job.err).contains("not authorized");
  }

  @Test
  void aCredentialFileOthersCanReadIsRefused() throws Exception {
    Path open = config("readable", USER, PASSWORD, "rw-r--r--");
    Cli c = lsntp("watch", "--config", open.toString(), "--max-records", "1");
    assertThat(c.exit).isEqualTo(2);
    assertThat(c.err).contains("holds Kafka credentials (kafka.properties.sasl.jaas.config) and other users can read it")
        .contains("chmod 600 " + open).doesNotContain(PASSWORD);
  }
}
