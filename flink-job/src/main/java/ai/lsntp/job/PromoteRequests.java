package ai.lsntp.job;

import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.ModelEventKind;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.schemas.RecordCodec;
import java.io.IOException;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operators' promotion requests ({@code ./lsntp promote}): PROMOTE_REQUESTED {@link ModelEvent}s on
 * the model-events topic, the topic where their outcome (PROMOTED, DEMOTED, or REFUSED with the
 * reason) appears. Each reaches the verifier of its grid as a {@link Frame} that carries no values
 * but the challenger's name ({@link Frame#promote}), so it is ordered with that grid's frames
 * and forecasts in the one keyed stage that decides which model is published.
 *
 * <p>Where reading starts: the offsets committed by the job's checkpoints (its own consumer group,
 * the frames group's id + "-promote"), else the topic's end, so a fresh job never acts on an old
 * request; a request written while the job is down is read when it comes back from a checkpoint.
 */
public final class PromoteRequests {
  private static final Logger LOG = LoggerFactory.getLogger(PromoteRequests.class);

  private PromoteRequests() {}

  @SuppressWarnings("deprecation")
  public static KafkaSource<Frame> source(LsntpConfig cfg) {
    return KafkaSource.<Frame>builder()
        .setProperties(cfg.kafkaProperties())
        .setBootstrapServers(cfg.kafka.bootstrapServers)
        .setTopics(cfg.topics.modelEvents)
        .setGroupId(cfg.kafka.groupId + "-promote")
        .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.LATEST))
        .setProperty("isolation.level", "read_committed")
        .setProperty("partition.discovery.interval.ms", "60000")
        .setDeserializer(new Requests())
        .build();
  }

  /** The request as the verifier's control record: grid id and challenger name, no values. */
  public static Frame request(String gridId, String challenger) {
    Frame f = new Frame(gridId, Long.MIN_VALUE, System.currentTimeMillis(), null);
    f.promote = challenger;
    return f;
  }

  /** Keeps the PROMOTE_REQUESTED events with a grid and a name; every other record of the topic is not a request. */
  static final class Requests implements KafkaRecordDeserializationSchema<Frame> {
    private static final long serialVersionUID = 1L;
    private transient RecordCodec<ModelEvent> codec;

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> r, Collector<Frame> out) {
      if (codec == null) {
        codec = RecordCodec.of(ModelEvent.class);
      }
      ModelEvent e;
      try {
        e = codec.decode(r.value());
      } catch (IOException | RuntimeException bad) {
        LOG.warn("model-events record at {}-{}@{} is not a ModelEvent this job reads ({}); not a request", r.topic(),
            r.partition(), r.offset(), bad.getMessage());
        return;
      }
      if (e.getKind() == ModelEventKind.PROMOTE_REQUESTED) {
        if (e.getGridId() == null || e.getSlot() == null) {
          LOG.warn("promotion request at {}-{}@{} names no grid or no challenger; ignored", r.topic(), r.partition(),
              r.offset());
          return;
        }
        out.collect(request(e.getGridId(), e.getSlot()));
      }
    }

    @Override
    public TypeInformation<Frame> getProducedType() {
      return TypeInformation.of(Frame.class);
    }
  }
}
