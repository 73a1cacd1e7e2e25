package ai.lsntp.config;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The job's Kafka topics, the one list of them: each one's configuration key, its default name
 * (lsntp-default.yaml) and its name under another prefix (a test's or a benchmark's own topics on
 * a shared broker). A new topic is a constant here, a field of {@link LsntpConfig.Topics} and a
 * line of lsntp-default.yaml; whatever creates, checks or renames the job's topics follows.
 */
public enum Topic {
  FRAMES("frames"),
  FORECASTS("forecasts"),
  ALERTS("alerts"),
  REJECTS("rejects"),
  MODEL_EVENTS("model-events"),
  VERIFICATION("verification");

  /** The prefix of the default names: lsntp.frames, lsntp.forecasts, ... */
  public static final String DEFAULT_PREFIX = "lsntp";

  private final String sectionKey;

  Topic(String sectionKey) {
    this.sectionKey = sectionKey;
  }

  /** Its key within the configuration's topics section, e.g. model-events. */
  public String sectionKey() {
    return sectionKey;
  }

  /** The configuration key naming this topic, e.g. topics.model-events. */
  public String key() {
    return "topics." + sectionKey;
  }

  /** The name lsntp-default.yaml gives it. */
  public String defaultName() {
    return under(DEFAULT_PREFIX);
  }

  /** Its name under {@code prefix}: prefix.frames, prefix.model-events, ... */
  public String under(String prefix) {
    return prefix + "." + sectionKey;
  }

  /** Its name in {@code cfg}. */
  public String in(LsntpConfig cfg) {
    LsntpConfig.Topics t = cfg.topics;
    return switch (this) {
      case FRAMES -> t.frames;
      case FORECASTS -> t.forecasts;
      case ALERTS -> t.alerts;
      case REJECTS -> t.rejects;
      case MODEL_EVENTS -> t.modelEvents;
      case VERIFICATION -> t.verification;
    };
  }

  /** Every topic's name under {@code prefix}, in this list's order. */
  public static String[] namesUnder(String prefix) {
    return Arrays.stream(values()).map(t -> t.under(prefix)).toArray(String[]::new);
  }

  /** The settings that put every topic under {@code prefix}: topics.frames = prefix.frames, ... */
  public static Map<String, String> settingsUnder(String prefix) {
    Map<String, String> s = new LinkedHashMap<>();
    for (Topic t : values()) {
      s.put(t.key(), t.under(prefix));
    }
    return s;
  }
}
