package ai.lsntp.tools;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.schemas.FrameTiles;
import ai.lsntp.schemas.ForecastTiles;
import ai.lsntp.schemas.TileAssembler;
import ai.lsntp.schemas.RecordCodec;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The one reader of the job's topics: a read_committed consumer (only the output of committed
 * Flink checkpoints) of any of them (forecasts, alerts, rejects and verification for watch and the
 * demo; frames and model events too for the live page) that decodes each record and hands it to a
 * {@link Handler}. A forecast or frame that travels as tiles is handed on once, whole, when its
 * last tile has come. Offsets are never committed: every watcher reads for itself.
 */
public final class TopicWatcher implements AutoCloseable {
  /** What a watcher does with each record (nothing, unless it says); a record that is not what its topic carries goes to {@link #undecodable}. */
  public interface Handler {
    default void frame(TemperatureFrame f) {}

    default void forecast(Forecast f) {}

    default void alert(Alert a) {}

    default void reject(RejectedFrame r) {}

    default void modelEvent(ModelEvent e) {}

    default void verification(Verification v) {}

    /** Tiles of a forecast that could not be put together (from the middle of a topic, or broken), with why. */
    default void forecastTilesDropped(Forecast tile, String why) {}

    /** Tiles of a frame that could not be put together, with why (the job rejects such frames too). */
    default void frameTilesDropped(TemperatureFrame tile, String why) {}

    void undecodable(ConsumerRecord<byte[], byte[]> record, String expected, Exception why);
  }

  /** The topics to read; null for one not to read. */
  public record Topics(String frames, String forecasts, String alerts, String rejects, String modelEvents,
      String verification) {
    /** The job's output topics that watch and the demo read. */
    public Topics(String forecasts, String alerts, String rejects, String verification) {
      this(null, forecasts, alerts, rejects, null, verification);
    }

    public static Topics onlyForecasts(String topic) {
      return new Topics(topic, null, null, null);
    }

    /** The named topics, by their names in {@code cfg}. */
    public static Topics of(LsntpConfig cfg, Topic... read) {
      Set<Topic> r = EnumSet.noneOf(Topic.class);
      r.addAll(List.of(read));
      Function<Topic, String> name = t -> r.contains(t) ? t.in(cfg) : null;
      return new Topics(name.apply(Topic.FRAMES), name.apply(Topic.FORECASTS), name.apply(Topic.ALERTS),
          name.apply(Topic.REJECTS), name.apply(Topic.MODEL_EVENTS), name.apply(Topic.VERIFICATION));
    }

    /** The topics read, each with what it carries, in {@link Topic}'s order. */
    Map<String, Topic> byName() {
      Map<String, Topic> m = new LinkedHashMap<>();
      String[] names = {frames, forecasts, alerts, rejects, modelEvents, verification};
      Topic[] kinds = {Topic.FRAMES, Topic.FORECASTS, Topic.ALERTS, Topic.REJECTS, Topic.MODEL_EVENTS, Topic.VERIFICATION};
      for (int i = 0; i < names.length; i++) {
        if (names[i] != null) {
          m.put(names[i], kinds[i]);
        }
      }
      return m;
    }
  }

  private final KafkaConsumer<byte[], byte[]> consumer;
  private final Map<String, Topic> topics;
  private final RecordCodec<TemperatureFrame> tc = RecordCodec.of(TemperatureFrame.class);
  private final RecordCodec<Forecast> fc = RecordCodec.of(Forecast.class);
  private final RecordCodec<Alert> ac = RecordCodec.of(Alert.class);
  private final RecordCodec<RejectedFrame> rc = RecordCodec.of(RejectedFrame.class);
  private final RecordCodec<ModelEvent> mc = RecordCodec.of(ModelEvent.class);
  private final RecordCodec<Verification> vc = RecordCodec.of(Verification.class);
  /** Tiled forecasts being put together; the handler of the poll that completes one gets it. */
  private final ForecastTiles.Assembler tiles = new ForecastTiles.Assembler(64, this::dropped);
  /** Tiled frames being put together (the live page reads the frames topic). */
  private final TileAssembler<TemperatureFrame> frameTiles =
      new TileAssembler<>(FrameTiles.INSTANCE, 16, this::frameDropped);
  private Handler current;

  /** @param groupId null for a fresh group per watcher */
  public TopicWatcher(Properties clientProperties, Topics topics, String groupId, boolean fromBeginning) {
    Properties p = new Properties();
    p.putAll(clientProperties);
    p.put("group.id", groupId != null ? groupId : "lsntp-watch-" + UUID.randomUUID());
    p.put("isolation.level", "read_committed");
    p.put("enable.auto.commit", "false");
    p.put("auto.offset.reset", fromBeginning ? "earliest" : "latest");
    p.putIfAbsent("client.id", "lsntp-watch");
    this.topics = topics.byName();
    this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    consumer.subscribe(topics());
  }

  /** The topics read, in the order frames, forecasts, alerts, rejects, model events, verification. */
  public List<String> topics() {
    return new ArrayList<>(topics.keySet());
  }

  /** Polls once; returns the number of records handled (0 when none came within {@code timeout}). */
  public int poll(Duration timeout, Handler handler) {
    current = handler;
    ConsumerRecords<byte[], byte[]> recs = consumer.poll(timeout);
    for (ConsumerRecord<byte[], byte[]> r : recs) {
      Topic topic = topics.get(r.topic());
      String expected = switch (topic) {
        case FRAMES -> "TemperatureFrame";
        case FORECASTS -> "Forecast";
        case ALERTS -> "Alert";
        case REJECTS -> "RejectedFrame";
        case MODEL_EVENTS -> "ModelEvent";
        case VERIFICATION -> "Verification";
      };
      if (r.value() == null) {
        handler.undecodable(r, expected, new IOException("the record has no value (a tombstone)"));
        continue;
      }
      try {
        switch (topic) {
          case FRAMES -> {
            TemperatureFrame whole = frameTiles.add(tc.decode(r.value()));
            if (whole != null) {
              handler.frame(whole);
            }
          }
          case FORECASTS -> {
            Forecast whole = tiles.add(fc.decode(r.value()));
            if (whole != null) {
              handler.forecast(whole);
            }
          }
          case ALERTS -> handler.alert(ac.decode(r.value()));
          case REJECTS -> handler.reject(rc.decode(r.value()));
          case MODEL_EVENTS -> handler.modelEvent(mc.decode(r.value()));
          case VERIFICATION -> handler.verification(vc.decode(r.value()));
        }
      } catch (IOException e) {
        handler.undecodable(r, expected, e);
      }
    }
    return recs.count();
  }

  private void frameDropped(TemperatureFrame tile, String why) {
    current.frameTilesDropped(tile, why);
  }

  private void dropped(Forecast tile, String why) {
    current.forecastTilesDropped(tile, why);
  }

  /** Makes a blocked or the next {@link #poll} throw WakeupException (Ctrl-C); safe from any thread. */
  public void wakeup() {
    consumer.wakeup();
  }

  @Override
  public void close() {
    consumer.close(Duration.ofSeconds(2));
  }
}
