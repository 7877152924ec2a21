// pgjdbc against Borealis: what an application does, with the driver's defaults (server-side
// prepared statements after prepareThreshold uses, binary transfer for the types it knows).
// Usage: java -cp postgresql.jar Pgjdbc.java URL. Prints OK and exits 0 on success.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;

public class Pgjdbc {
    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    public static void main(String[] args) throws Exception {
        // postgres://user@host:port/db -> jdbc:postgresql://host:port/db?user=user
        String url = args.length > 0 ? args[0] : System.getenv("DATABASE_URL");
        String rest = url.replaceFirst("^postgres(ql)?://", "");
        String user = rest.substring(0, rest.indexOf('@'));
        String hostDb = rest.substring(rest.indexOf('@') + 1);
        String jdbc = "jdbc:postgresql://" + hostDb + (hostDb.contains("?") ? "&" : "?") + "user=" + user;
        try (Connection c = DriverManager.getConnection(jdbc)) {
            check(c.getMetaData().getDatabaseMajorVersion() == 15, "server version 15");
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS jd_items");
                s.execute("CREATE TABLE jd_items (id int PRIMARY KEY, big bigint, score float8,"
                        + " name text, active bool, at timestamp)");
            }
            Timestamp at = Timestamp.valueOf("2024-05-01 12:34:56.123456");
            try (PreparedStatement p = c.prepareStatement(
                    "INSERT INTO jd_items (id, big, score, name, active, at) VALUES (?, ?, ?, ?, ?, ?)")) {
                for (int i = 1; i <= 8; i++) {
                    p.setInt(1, i);
                    p.setLong(2, (1L << 40) * i);
                    p.setDouble(3, i + 0.5);
                    p.setString(4, "name " + i);
                    p.setBoolean(5, i % 2 == 0);
                    p.setTimestamp(6, at);
                    check(p.executeUpdate() == 1, "insert " + i);
                }
                p.setInt(1, 9);
                p.setNull(2, Types.BIGINT);
                p.setNull(3, Types.DOUBLE);
                p.setNull(4, Types.VARCHAR);
                p.setNull(5, Types.BOOLEAN);
                p.setNull(6, Types.TIMESTAMP);
                p.executeUpdate();
                p.setInt(1, 10);
                p.setLong(2, 1);
                p.setFloat(3, 2.5f);
                p.setString(4, "ten");
                p.setBoolean(5, true);
                p.setTimestamp(6, at);
                p.addBatch();
                p.setInt(1, 11);
                p.addBatch();
                check(p.executeBatch().length == 2, "batch");
            }
            // Enough executions that pgjdbc switches to a named statement and binary results.
            try (PreparedStatement p = c.prepareStatement(
                    "SELECT id, big, score, name, active, at FROM jd_items WHERE id = ?")) {
                for (int round = 0; round < 8; round++) {
                    for (int i = 1; i <= 8; i++) {
                        p.setInt(1, i);
                        try (ResultSet r = p.executeQuery()) {
                            check(r.next(), "row " + i);
                            check(r.getInt(1) == i, "id");
                            check(r.getLong(2) == (1L << 40) * i, "bigint");
                            check(r.getDouble(3) == i + 0.5, "float8");
                            check(r.getString(4).equals("name " + i), "text");
                            check(r.getBoolean(5) == (i % 2 == 0), "bool");
                            check(r.getTimestamp(6).equals(at), "timestamp " + r.getTimestamp(6));
                            check(!r.next(), "one row");
                        }
                    }
                }
                p.setInt(1, 9);
                try (ResultSet r = p.executeQuery()) {
                    check(r.next(), "row 9");
                    r.getLong(2);
                    check(r.wasNull(), "null bigint");
                    check(r.getString(4) == null && r.getTimestamp(6) == null, "nulls");
                }
                p.setInt(1, 10);
                try (ResultSet r = p.executeQuery()) {
                    check(r.next() && r.getDouble(3) == 2.5, "float4 parameter");
                }
            }
            try (PreparedStatement p = c.prepareStatement("UPDATE jd_items SET name = ? WHERE id = ?")) {
                p.setString(1, "changed");
                p.setInt(2, 3);
                check(p.executeUpdate() == 1, "update");
            }

            // Transactions: rollback discards, commit keeps.
            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement("DELETE FROM jd_items WHERE id = ?")) {
                p.setInt(1, 1);
                check(p.executeUpdate() == 1, "delete");
                c.rollback();
                p.setInt(1, 2);
                check(p.executeUpdate() == 1, "delete");
                c.commit();
            }
            c.setAutoCommit(true);
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT count(*) FROM jd_items")) {
                check(r.next() && r.getLong(1) == 10, "count after transactions");
            }

            // A unique violation arrives as an SQLException with its SQLSTATE.
            try (PreparedStatement p = c.prepareStatement("INSERT INTO jd_items (id) VALUES (?)")) {
                p.setInt(1, 3);
                p.executeUpdate();
                throw new AssertionError("duplicate key accepted");
            } catch (SQLException e) {
                check("23505".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState());
            }
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE jd_items");
            }
        }
        System.out.println("OK");
    }
}
