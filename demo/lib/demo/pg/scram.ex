# The SCRAM-SHA-256 arithmetic (RFC 5802 / RFC 7677) that Demo.PG needs for PostgreSQL's default auth.
defmodule Demo.PG.Scram do
  @moduledoc """
  DEMO CODE: the client side of SCRAM-SHA-256, without any socket handling.

  Real apps use Postgrex, which implements this (and channel binding). This
  module is pure so it can be checked against the RFC 7677 example exchange.
  It does not apply SASLprep to the password, so non-ASCII passwords may fail.
  """

  @enforce_keys [:client_first_bare]
  defstruct [:client_first_bare, :client_nonce, :server_signature]

  @typedoc "What the client must remember between the messages of one exchange."
  @type t :: %__MODULE__{
          client_first_bare: String.t(),
          client_nonce: String.t(),
          server_signature: binary() | nil
        }

  @doc """
  Builds the client-first message.

  PostgreSQL takes the user name from the startup message and ignores this
  one, so `Demo.PG` passes `""` as its documentation recommends.
  """
  @spec client_first(String.t(), String.t()) :: {String.t(), t()}
  def client_first(user, nonce) do
    bare = "n=#{escape(user)},r=#{nonce}"
    # "n,," means: no channel binding, no authorization identity.
    {"n,," <> bare, %__MODULE__{client_first_bare: bare, client_nonce: nonce}}
  end

  @doc """
  Answers the server-first message with the client proof.

  The returned state holds the signature the server must send back, which
  proves the server also knows the password.
  """
  @spec client_final(t(), String.t(), String.t()) :: {:ok, String.t(), t()} | {:error, String.t()}
  def client_final(%__MODULE__{} = state, server_first, password) do
    with {:ok, attrs} <- parse_attributes(server_first),
         %{"r" => nonce, "s" => salt64, "i" => iterations} <- attrs,
         true <- String.starts_with?(nonce, state.client_nonce) || :bad_nonce,
         {:ok, salt} <- Base.decode64(salt64),
         {iterations, ""} when iterations > 0 <- Integer.parse(iterations) do
      # "biws" is base64 of "n,,", the GS2 header sent in client-first.
      without_proof = "c=biws,r=#{nonce}"
      auth_message = Enum.join([state.client_first_bare, server_first, without_proof], ",")

      salted = :crypto.pbkdf2_hmac(:sha256, password, salt, iterations, 32)
      client_key = hmac(salted, "Client Key")
      signature = hmac(:crypto.hash(:sha256, client_key), auth_message)
      proof = :crypto.exor(client_key, signature)
      server_signature = hmac(hmac(salted, "Server Key"), auth_message)

      {:ok, "#{without_proof},p=#{Base.encode64(proof)}",
       %{state | server_signature: server_signature}}
    else
      :bad_nonce -> {:error, "server nonce does not extend the client nonce"}
      _ -> {:error, "malformed SCRAM server-first message"}
    end
  end

  @doc "Checks the server-final message against the signature computed in `client_final/3`."
  @spec verify_server_final(t(), String.t()) :: :ok | {:error, String.t()}
  def verify_server_final(%__MODULE__{server_signature: expected}, server_final) do
    case parse_attributes(server_final) do
      {:ok, %{"v" => signature}} ->
        if Base.decode64(signature) == {:ok, expected},
          do: :ok,
          else: {:error, "server signature does not match: the server may not know the password"}

      {:ok, %{"e" => reason}} ->
        {:error, "server rejected SCRAM authentication: #{reason}"}

      _ ->
        {:error, "malformed SCRAM server-final message"}
    end
  end

  # SCRAM messages are comma-separated "k=value" pairs with one-letter keys.
  @spec parse_attributes(String.t()) :: {:ok, %{String.t() => String.t()}} | :error
  defp parse_attributes(message) do
    message
    |> String.split(",")
    |> Enum.reduce_while({:ok, %{}}, fn
      <<key::binary-size(1), "=", value::binary>>, {:ok, acc} ->
        {:cont, {:ok, Map.put(acc, key, value)}}

      _, _ ->
        {:halt, :error}
    end)
  end

  # RFC 5802 reserves "," and "=" in names, which must be sent as =2C and =3D.
  @spec escape(String.t()) :: String.t()
  defp escape(name), do: name |> String.replace("=", "=3D") |> String.replace(",", "=2C")

  @spec hmac(binary(), binary()) :: binary()
  defp hmac(key, data), do: :crypto.mac(:hmac, :sha256, key, data)
end
