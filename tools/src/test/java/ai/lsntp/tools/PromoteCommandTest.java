package ai.lsntp.tools;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.ModelEventKind;
import ai.lsntp.config.Topic;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.testing.Cli;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.KafkaIO;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** ./lsntp promote on a real broker: the request it writes, and a name no challenger folder has refused by name. */
class PromoteCommandTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @TempDir Path tmp;

  @Test
  void writesAPromoteRequestAndRefusesAnUnknownChallengerByName() throws Exception {
    String p = "promote";
    kafka.createTopics(1, Topic.namesUnder(p));
    // the layout is all the command looks at (the job checks the models themselves)
    Path models = tmp.resolve("models");
    Files.createDirectories(models.resolve("era5-uk/challengers/convlstm"));
    Files.writeString(models.resolve("era5-uk/model.onnx"), "x");
    Files.writeString(models.resolve("era5-uk/challengers/convlstm/model.onnx"), "x");
    String topicSetting = Topic.MODEL_EVENTS.key() + "=" + Topic.MODEL_EVENTS.under(p);

    Cli unknown = Cli.run(new PromoteCommand(), "-b", kafka.bootstrapServers(), "--set", topicSetting, "--set",
        "models.directory=" + models, "--grid", "era5-uk-0p25", "--challenger", "convgru");
    assertThat(unknown.exit).as(unknown.toString()).isEqualTo(2);
    assertThat(unknown.err).contains("no challenger 'convgru' in " + models.toAbsolutePath() + " (its challengers: convlstm;")
        .doesNotContain("\tat ");

    Cli ok = Cli.run(new PromoteCommand(), "-b", kafka.bootstrapServers(), "--set", topicSetting, "--set",
        "models.directory=" + models, "--grid", "era5-uk-0p25", "--challenger", "convlstm");
    assertThat(ok.exit).as(ok.toString()).isZero();
    List<ConsumerRecord<byte[], byte[]>> written = KafkaIO.readCommitted(kafka.bootstrapServers(),
        Topic.MODEL_EVENTS.under(p), 1, Duration.ofSeconds(30));
    assertThat(written).hasSize(1);
    assertThat(new String(written.get(0).key(), StandardCharsets.UTF_8)).isEqualTo("era5-uk-0p25");
    ModelEvent e = RecordCodec.of(ModelEvent.class).decode(written.get(0).value());
    assertThat(e.getKind()).isEqualTo(ModelEventKind.PROMOTE_REQUESTED);
    assertThat(e.getGridId()).isEqualTo("era5-uk-0p25");
    assertThat(e.getSlot()).isEqualTo("convlstm");
  }
}
