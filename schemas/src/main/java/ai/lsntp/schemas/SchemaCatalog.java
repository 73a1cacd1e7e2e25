package ai.lsntp.schemas;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.message.SchemaStore;

/**
 * Every version of every record the stream has ever published: the versions kept in this jar
 * (resources {@code ai/lsntp/schemas/history/<Record>-v<N>.avsc}) and today's, which is the
 * generated class's schema and the version after the newest kept one. Each version is known by
 * its CRC-64-AVRO fingerprint (Avro's single-object encoding puts it in front of every record), so
 * a reader finds the schema a record was written with and resolves it against its own.
 *
 * <p>A reader built before a record gained a version can still resolve it when it is given the
 * newer version's schema file: {@link #withDirectory} adds the {@code .avsc} files of a directory
 * ({@code ./lsntp schemas --export DIR} writes the whole published set).
 */
public final class SchemaCatalog {
  /** The records of the stream, in the order they are listed. */
  public static final List<Schema> CURRENT = List.of(TemperatureFrame.getClassSchema(), Forecast.getClassSchema(),
      Alert.getClassSchema(), RejectedFrame.getClassSchema(), ModelEvent.getClassSchema(),
      Verification.getClassSchema());

  private static final String HISTORY = "/ai/lsntp/schemas/history/";
  private static final Pattern FILE_NAME = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)-v(\\d+)\\.avsc");
  private static final SchemaCatalog BUILT_IN = loadBuiltIn();

  /** One published version of one record. */
  public record Version(String record, int number, Schema schema, long fingerprint, boolean current) {
    /** The fingerprint as 16 hex digits (the long's value, most significant digit first). */
    public String fingerprintHex() {
      return hex(fingerprint);
    }

    /** e.g. "Forecast v2". */
    public String label() {
      return record + " v" + number;
    }
  }

  /** record simple name -> its versions, oldest first. */
  private final Map<String, List<Version>> versions;
  private final Map<Long, Version> byFingerprint;

  private SchemaCatalog(Map<String, List<Version>> versions) {
    this.versions = versions;
    this.byFingerprint = new LinkedHashMap<>();
    versions.values().forEach(vs -> vs.forEach(v -> byFingerprint.putIfAbsent(v.fingerprint, v)));
  }

  /** The versions this jar knows: everything it ever published. */
  public static SchemaCatalog builtIn() {
    return BUILT_IN;
  }

  /** The fingerprint Avro's single-object encoding writes for a schema (CRC-64-AVRO of its canonical form). */
  public static long fingerprint(Schema schema) {
    return SchemaNormalization.parsingFingerprint64(schema);
  }

  public static String hex(long fingerprint) {
    return String.format(Locale.ROOT, "%016x", fingerprint);
  }

  private static SchemaCatalog loadBuiltIn() {
    Map<String, List<Version>> all = new LinkedHashMap<>();
    for (Schema current : CURRENT) {
      String name = current.getName();
      List<Version> vs = new ArrayList<>();
      for (int n = 1; ; n++) {
        Schema old = resource(name + "-v" + n + ".avsc");
        if (old == null) {
          vs.add(new Version(name, n, current, fingerprint(current), true));
          break;
        }
        if (!old.getFullName().equals(current.getFullName())) {
          throw new IllegalStateException(HISTORY + name + "-v" + n + ".avsc holds " + old.getFullName()
              + ", not " + current.getFullName());
        }
        vs.add(new Version(name, n, old, fingerprint(old), false));
      }
      all.put(name, Collections.unmodifiableList(vs));
    }
    return new SchemaCatalog(all);
  }

  private static Schema resource(String file) {
    try (InputStream in = SchemaCatalog.class.getResourceAsStream(HISTORY + file)) {
      return in == null ? null : new Schema.Parser().parse(in);
    } catch (IOException e) {
      throw new UncheckedIOException("reading schema " + HISTORY + file, e);
    }
  }

  /**
   * This catalog plus the {@code <Record>-v<N>.avsc} files of {@code dir} (a newer release's
   * published set): versions it does not know yet become resolvable. A file whose version number
   * this catalog already has with another schema is an error, never a silent choice.
   */
  public SchemaCatalog withDirectory(Path dir) throws IOException {
    Map<String, List<Version>> all = new LinkedHashMap<>();
    versions.forEach((k, v) -> all.put(k, new ArrayList<>(v)));
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.avsc")) {
      for (Path f : files) {
        Matcher m = FILE_NAME.matcher(f.getFileName().toString());
        if (!m.matches()) {
          throw new IOException(f + ": a published schema file is named <Record>-v<N>.avsc");
        }
        Schema s;
        try {
          s = new Schema.Parser().parse(f.toFile());
        } catch (RuntimeException e) {
          throw new IOException(f + ": not an Avro schema: " + e.getMessage(), e);
        }
        String record = m.group(1);
        if (!s.getName().equals(record)) {
          throw new IOException(f + " holds the record " + s.getFullName() + ", not " + record);
        }
        int number = Integer.parseInt(m.group(2));
        List<Version> vs = all.computeIfAbsent(record, k -> new ArrayList<>());
        long fp = fingerprint(s);
        Optional<Version> same = vs.stream().filter(v -> v.number == number).findFirst();
        if (same.isPresent()) {
          if (same.get().fingerprint != fp) {
            throw new IOException(f + " is " + record + " v" + number + " with fingerprint " + hex(fp)
                + ", but " + record + " v" + number + " is " + same.get().fingerprintHex() + " here");
          }
          continue;
        }
        vs.add(new Version(record, number, s, fp, false));
      }
    }
    all.values().forEach(vs -> vs.sort((a, b) -> Integer.compare(a.number, b.number)));
    Map<String, List<Version>> frozen = new LinkedHashMap<>();
    all.forEach((k, v) -> frozen.put(k, Collections.unmodifiableList(v)));
    return new SchemaCatalog(frozen);
  }

  /** The records' simple names. */
  public List<String> records() {
    return List.copyOf(versions.keySet());
  }

  /** A record's versions, oldest first; empty for an unknown record. */
  public List<Version> versions(String record) {
    return versions.getOrDefault(record, List.of());
  }

  /** The version today's code writes. */
  public Version current(String record) {
    return versions(record).stream().filter(Version::current).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no record named " + record));
  }

  public Optional<Version> byFingerprint(long fingerprint) {
    return Optional.ofNullable(byFingerprint.get(fingerprint));
  }

  /** Avro's schema store of one record's versions, for {@code BinaryMessageDecoder}. */
  public SchemaStore store(String record) {
    SchemaStore.Cache cache = new SchemaStore.Cache();
    versions(record).forEach(v -> cache.addSchema(v.schema));
    return cache;
  }
}
