package ai.lsntp.tools;

import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.ModelEventKind;
import ai.lsntp.config.ConfigOptions;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.job.KafkaAccessException;
import ai.lsntp.job.KafkaPreflight;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.schemas.RecordCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Asks the running job to promote one of a grid's challengers: writes a PROMOTE_REQUESTED
 * {@link ModelEvent} to the model-events topic, which the job reads where the grid's promotion
 * policy is manual (or automatic). The job answers on the same topic: PROMOTED and DEMOTED with the
 * evidence when the challenger takes over (from the next issue time), or REFUSED naming why.
 */
@Command(name = "promote", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Ask the running job to make a challenger serve its grid (promotion policy manual).",
    footer = {"", "Example:", "  ./lsntp promote --grid era5-uk-0p25 --challenger convlstm",
        "", "Exit status: 0 request written; 1 Kafka could not take it; 2 bad input (an unknown challenger)."})
public class PromoteCommand extends ToolCommand {
  @Mixin ConfigOptions connection = new ConfigOptions();

  @Option(names = "--grid", required = true, paramLabel = "GRID", description = "The grid id.")
  String grid;

  @Option(names = "--challenger", required = true, paramLabel = "NAME",
      description = "The challenger's folder name (<grid-folder>/challengers/NAME/), or 'default' for the grid folder's own model.")
  String challenger;

  public static void main(String[] args) {
    launch(new PromoteCommand(), args);
  }

  @Override
  protected int run() throws Exception {
    LsntpConfig cfg = connection.config();
    checkName(Path.of(cfg.models.directory));
    String topic = cfg.topics.modelEvents;
    try {
      KafkaPreflight.check(connection.clientProperties(), List.of(topic), cfg.connectTimeout());
    } catch (KafkaAccessException e) {
      throw ToolException.failure(e.getMessage());
    }
    ModelEvent request = ModelEvent.newBuilder()
        .setKind(ModelEventKind.PROMOTE_REQUESTED)
        .setGridId(grid)
        .setModelPath("")
        .setSlot(challenger)
        .setRole("champion")
        .setReason("requested with ./lsntp promote by " + System.getProperty("user.name", "an operator"))
        .setAt(Instant.now())
        .build();
    Properties p = connection.clientProperties();
    p.put("acks", "all");
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      producer.send(new ProducerRecord<>(topic, grid.getBytes(StandardCharsets.UTF_8),
          RecordCodec.of(ModelEvent.class).encode(request))).get(cfg.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw ToolException.failure("the request could not be written to " + topic + ": " + e.getMessage());
    }
    spec.commandLine().getOut().println("lsntp promote: asked the job to promote challenger '" + challenger + "' on grid '"
        + grid + "' (" + topic + "); the job answers there with PROMOTED and DEMOTED, or REFUSED and the reason"
        + " (its policy for the grid must be manual or automatic)");
    return 0;
  }

  /**
   * Where the model directory is at hand, a name none of its challenger folders has is refused
   * here, naming the ones there are; elsewhere (the job's directory on another machine) the job
   * checks and answers REFUSED.
   */
  private void checkName(Path dir) {
    if (ModelCatalog.DEFAULT_SLOT.equals(challenger) || !Files.isDirectory(dir)) {
      return;
    }
    TreeSet<String> names = new TreeSet<>();
    for (Path f : ModelCatalog.challengerFiles(dir)) {
      names.add(ModelCatalog.challengerName(f));
    }
    if (!names.contains(challenger)) {
      throw ToolException.input("no challenger '" + challenger + "' in " + dir.toAbsolutePath() + " (its challengers: "
          + (names.isEmpty() ? "none" : String.join(", ", names)) + "; layout <grid-folder>/challengers/<name>/model.onnx)");
    }
  }
}
