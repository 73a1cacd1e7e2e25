package ai.lsntp.tools;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.FrameTiles;
import ai.lsntp.schemas.TileException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.AvroTypeException;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;

/**
 * Frame inputs of the replay: Avro object container files of TemperatureFrame records as they
 * are, GRIB or NetCDF files through the project's Python ingest (model-export, `lsntp ingest`)
 * into a temporary Avro file first. The kind is told by the file's first bytes, not its name. A
 * frame stored as tiles (TemperatureFrame.tile, as the ingest writes a frame larger than a Kafka
 * record) is read back whole: its tiles must follow one another in the file.
 */
public final class FrameFiles {
  public enum Kind { AVRO, GRIB, NETCDF }

  private FrameFiles() {}

  public static Kind kindOf(Path file) {
    if (!Files.exists(file)) {
      throw ToolException.input(file + ": no such file");
    }
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      throw ToolException.input(file + ": not a readable file");
    }
    byte[] head = new byte[8];
    int n;
    try (InputStream in = Files.newInputStream(file)) {
      n = in.readNBytes(head, 0, head.length);
    } catch (IOException e) {
      throw ToolException.input(file + ": cannot read (" + e.getMessage() + ")");
    }
    if (n >= 4 && head[0] == 'O' && head[1] == 'b' && head[2] == 'j' && head[3] == 1) {
      return Kind.AVRO;
    }
    if (n >= 4 && new String(head, 0, 4, StandardCharsets.US_ASCII).equals("GRIB")) {
      return Kind.GRIB;
    }
    if (n >= 4 && head[0] == 'C' && head[1] == 'D' && head[2] == 'F' && (head[3] == 1 || head[3] == 2 || head[3] == 5)) {
      return Kind.NETCDF;
    }
    if (n >= 8 && Arrays.equals(Arrays.copyOf(head, 8), new byte[] {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'})) {
      return Kind.NETCDF; // NetCDF-4 is HDF5
    }
    throw ToolException.input(file + ": neither an Avro container file of TemperatureFrame records nor a GRIB or "
        + "NetCDF file (first bytes " + hex(head, n) + ")");
  }

  private static String hex(byte[] b, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(String.format("%02x", b[i]));
    }
    return sb.length() == 0 ? "none: empty file" : sb.toString();
  }

  /** Where model-export/ is (the Python ingest): -Dlsntp.root, else searched upwards from the working directory. */
  public static Path modelExportDir() {
    String root = System.getProperty("lsntp.root", System.getenv("LSNTP_ROOT"));
    List<Path> candidates = new ArrayList<>();
    if (root != null) {
      candidates.add(Path.of(root));
    }
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      candidates.add(p);
    }
    for (Path c : candidates) {
      if (Files.isRegularFile(c.resolve("model-export/lsntp/ingest.py"))) {
        return c.resolve("model-export");
      }
    }
    throw ToolException.input("GRIB/NetCDF input needs the project's Python ingest (model-export/lsntp/ingest.py), "
        + "not found from " + Path.of("").toAbsolutePath() + "; set LSNTP_ROOT or ingest to Avro first with ./lsntp ingest");
  }

  /**
   * Runs {@code python3 -m lsntp ingest FILE --out TMP.avro --grid-id ID [--variable V] [--start S] [--end E]}
   * in model-export/ and returns the Avro file; the ingest's own error message is passed on.
   */
  public static Path ingest(Path file, String gridId, String variable, String timeVar, String timeUnits, Instant start,
      Instant end, String python, Path tmpDir, java.io.PrintWriter err) {
    if (gridId == null || gridId.isBlank()) {
      throw ToolException.input(file + ": GRIB/NetCDF input needs --grid-id (the grid the frames belong to, "
          + "e.g. era5-uk-0p25; it selects the model that serves them)");
    }
    Path dir = modelExportDir();
    Path out;
    try {
      out = Files.createTempFile(tmpDir, "ingest-", ".avro");
    } catch (IOException e) {
      throw ToolException.failure("cannot create a temporary file in " + tmpDir + ": " + e.getMessage());
    }
    List<String> cmd = new ArrayList<>(List.of(python, "-m", "lsntp", "ingest", file.toAbsolutePath().toString(),
        "--out", out.toString(), "--grid-id", gridId));
    if (variable != null) {
      cmd.addAll(List.of("--variable", variable));
    }
    if (timeVar != null) {
      cmd.addAll(List.of("--time-var", timeVar));
    }
    if (timeUnits != null) {
      cmd.addAll(List.of("--time-units", timeUnits));
    }
    if (start != null) {
      cmd.addAll(List.of("--start", start.toString().replace("Z", "")));
    }
    if (end != null) {
      cmd.addAll(List.of("--end", end.toString().replace("Z", "")));
    }
    Path log;
    try {
      log = Files.createTempFile(tmpDir, "ingest-", ".log");
      Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
          .redirectOutput(log.toFile()).start();
      if (!p.waitFor(30, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw ToolException.failure(file + ": ingest did not finish within 30 minutes");
      }
      String text = Files.readString(log);
      Files.deleteIfExists(log);
      if (p.exitValue() != 0) {
        throw ToolException.input(file + ": ingest failed: " + lastLines(text, 3));
      }
      // the ingest's warnings (gaps, skipped all-missing steps) and its summary
      text.lines().filter(l -> l.startsWith("lsntp ingest: warning:")).forEach(err::println);
      err.println(lastLines(text, 1));
      err.flush();
    } catch (IOException e) {
      throw ToolException.failure("cannot run the Python ingest (" + String.join(" ", cmd) + "): " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ToolException.failure("interrupted while ingesting " + file);
    }
    return out;
  }

  private static String lastLines(String text, int n) {
    List<String> lines = new ArrayList<>();
    for (String l : text.split("\n")) {
      String s = l.strip();
      if (!s.isEmpty() && !s.startsWith("lsntp ingest: warning:")) {
        lines.add(s);
      }
    }
    return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
  }

  /** Opens an Avro container file of TemperatureFrame records (read with today's schema); clear error otherwise. */
  public static DataFileReader<TemperatureFrame> open(Path avro) {
    try {
      return new DataFileReader<>(avro.toFile(), new SpecificDatumReader<>(TemperatureFrame.class));
    } catch (IOException | AvroRuntimeException e) {
      throw ToolException.input(avro + ": not a readable Avro container file of TemperatureFrame records: " + e.getMessage());
    }
  }

  /** Number of frames in an Avro container file: records counted block by block (no decoding), unless frames are stored as tiles. */
  public static long count(Path avro) {
    boolean tiled;
    try (DataFileReader<TemperatureFrame> r = open(avro)) {
      tiled = r.hasNext() && next(r, avro, 0).getTile() != null;
    } catch (IOException | AvroRuntimeException e) {
      throw ToolException.input(avro + ": corrupt Avro container file: " + e.getMessage());
    }
    long n = 0;
    if (tiled) {
      for (TemperatureFrame ignored : frames(List.of(avro), null, null)) {
        n++;
      }
      return n;
    }
    try (DataFileReader<TemperatureFrame> r = open(avro)) {
      while (r.hasNext()) {
        n += r.getBlockCount();
        r.nextBlock();
      }
    } catch (IOException | AvroRuntimeException e) {
      throw ToolException.input(avro + ": corrupt Avro container file: " + e.getMessage());
    }
    return n;
  }

  /**
   * The frames of Avro container files in order, read lazily, keeping those valid within [from,
   * to] (either may be null); a bad record ends the iteration with a ToolException naming it.
   */
  public static Iterable<TemperatureFrame> frames(List<Path> avroFiles, Instant from, Instant to) {
    return () -> new Iterator<>() {
      private final Iterator<Path> files = avroFiles.iterator();
      private DataFileReader<TemperatureFrame> reader;
      private Path file;
      private long index;
      private TemperatureFrame next;
      /** Tiles of the frame being read back, in the file's order. */
      private final List<TemperatureFrame> tiles = new ArrayList<>();

      @Override
      public boolean hasNext() {
        while (next == null) {
          if (reader == null || !reader.hasNext()) {
            if (!tiles.isEmpty()) {
              throw incomplete("the file ends");
            }
            closeReader();
            if (!files.hasNext()) {
              return false;
            }
            file = files.next();
            reader = open(file);
            index = 0;
            continue;
          }
          TemperatureFrame f = FrameFiles.next(reader, file, index++);
          if (f.getTile() != null) {
            f = tile(f);
            if (f == null) {
              continue;
            }
          } else if (!tiles.isEmpty()) {
            throw incomplete("record " + (index - 1) + " is a whole frame");
          }
          Instant vt = f.getValidTime();
          if ((from == null || !vt.isBefore(from)) && (to == null || !vt.isAfter(to))) {
            next = f;
          }
        }
        return true;
      }

      @Override
      public TemperatureFrame next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        TemperatureFrame f = next;
        next = null;
        return f;
      }

      /** Adds a tile; returns its frame when it was the last one, else null. */
      private TemperatureFrame tile(TemperatureFrame t) {
        if (!tiles.isEmpty() && !java.util.Arrays.equals(FrameTiles.INSTANCE.header(tiles.get(0)),
            FrameTiles.INSTANCE.header(t))) {
          throw incomplete("record " + (index - 1) + " is a tile of another frame ("
              + FrameTiles.INSTANCE.difference(tiles.get(0), t) + ")");
        }
        tiles.add(t);
        if (tiles.size() < t.getTile().getCount()) {
          return null;
        }
        try {
          return FrameTiles.INSTANCE.join(tiles);
        } catch (TileException e) {
          throw ToolException.input(file + ": the tiles of frame " + t.getGridId() + " " + t.getValidTime()
              + " (records " + (index - tiles.size()) + ".." + (index - 1) + ") do not make a frame: " + e.getMessage());
        } finally {
          tiles.clear();
        }
      }

      private ToolException incomplete(String what) {
        TemperatureFrame first = tiles.get(0);
        return ToolException.input(file + ": frame " + first.getGridId() + " " + first.getValidTime() + " is stored as "
            + first.getTile().getCount() + " tiles, but only " + tiles.size() + " follow one another before " + what
            + " (a frame's tiles must be consecutive in a file)");
      }

      private void closeReader() {
        if (reader != null) {
          try {
            reader.close();
          } catch (IOException e) {
            // read to the end already; nothing to lose
          }
          reader = null;
        }
      }
    };
  }

  /** Every frame of one Avro container file, in memory (the shipped demo files are a few MB). */
  public static List<TemperatureFrame> readAll(Path avro) {
    List<TemperatureFrame> out = new ArrayList<>();
    kindOf(avro);
    frames(List.of(avro), null, null).forEach(out::add);
    return out;
  }

  /** The next frame, or a clear error naming the file and the record. */
  public static TemperatureFrame next(DataFileReader<TemperatureFrame> r, Path file, long index) {
    try {
      return r.next();
    } catch (AvroTypeException e) {
      throw ToolException.input(file + ": record " + index + " is not a TemperatureFrame (schemas/TemperatureFrame.avsc): "
          + e.getMessage());
    } catch (AvroRuntimeException e) {
      throw ToolException.input(file + ": record " + index + " cannot be read: " + e.getMessage());
    }
  }
}
