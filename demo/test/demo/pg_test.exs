# Unit tests for Demo.PG's URL parsing and the SCRAM math, which need no server.
defmodule Demo.PGTest do
  use Demo.Case, async: true
  @moduletag :unit

  alias Demo.PG
  alias Demo.PG.Scram

  test "parse_url/1 reads every part and percent-decodes the user info" do
    assert PG.parse_url("postgres://app%40corp:p%40ss%3Aword@db.internal:6543/shop_test") ==
             {:ok,
              %{
                host: "db.internal",
                port: 6543,
                user: "app@corp",
                password: "p@ss:word",
                database: "shop_test"
              }}
  end

  test "parse_url/1 defaults like libpq" do
    assert {:ok, %{port: 5432, user: "postgres", password: nil, database: "postgres"}} =
             PG.parse_url("postgresql://localhost")

    assert {:ok, %{user: "bob", database: "bob"}} = PG.parse_url("postgres://bob@localhost/")
  end

  test "parse_url/1 rejects other schemes without echoing the URL" do
    assert {:error, {:url, message}} = PG.parse_url("mysql://root:hunter2@localhost/db")
    refute message =~ "hunter2"
  end

  test "connect/1 reports a refused connection" do
    # Port 1 is privileged and unused, so nothing listens there.
    assert {:error, :econnrefused} = PG.connect("postgres://u:p@127.0.0.1:1/db")
  end

  # The example exchange from RFC 7677, section 3.
  test "SCRAM-SHA-256 matches the RFC 7677 example" do
    {first, state} = Scram.client_first("user", "rOprNGfwEbeRWgbNEkqO")
    assert first == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"

    server_first =
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"

    assert {:ok, final, state} = Scram.client_final(state, server_first, "pencil")

    assert final ==
             "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," <>
               "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="

    assert :ok =
             Scram.verify_server_final(state, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")

    assert {:error, _} = Scram.verify_server_final(state, "v=AAAA")
    assert {:error, "server rejected" <> _} = Scram.verify_server_final(state, "e=invalid-proof")
  end

  test "SCRAM rejects a server nonce that does not extend ours" do
    {_first, state} = Scram.client_first("", "abc")
    assert {:error, "server nonce" <> _} = Scram.client_final(state, "r=xyz,s=AAAA,i=1", "pw")
    assert {:error, "malformed" <> _} = Scram.client_final(state, "garbage", "pw")
  end
end
